"""Tests of the edge gateway (edge/) against a real Mosquitto."""
