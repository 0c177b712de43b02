"""A watch's WGS-84 position for the map apps people in China use, and links that open them.

Watches report WGS-84 (GPS). AMap (高德) and most Chinese apps show GCJ-02, the
obfuscated datum Chinese law requires of published maps; Baidu shows BD-09, a further
offset of GCJ-02. A WGS-84 point drawn on their maps unconverted lands 100 to 700 m
off, across a street or in the next building, which is the difference between finding
an elderly person and not. OpenStreetMap takes WGS-84 as it is.

The conversion is the published one (the "eviltransform" family of libraries; the
Krasovsky 1940 ellipsoid's semi-major axis and eccentricity): it agrees with those
libraries' test points to 1e-6 degree (tests/hub/test_geo_coords.py). Outside the rough
box around China the offset is not applied (as those libraries do): points abroad stay
WGS-84.

Links (docs/positions.md says why each was chosen):

- AMap: ``https://uri.amap.com/marker?position=<lng>,<lat>&coordinate=gaode`` with
  GCJ-02, which opens the app on a phone that has it and the web map otherwise.
- Baidu: ``https://api.map.baidu.com/marker?location=<lat>,<lng>&coord_type=bd09ll``
  with BD-09 converted here, so the point does not depend on Baidu converting it.
- OpenStreetMap: ``https://www.openstreetmap.org/?mlat=<lat>&mlon=<lng>#map=18/<lat>/<lng>``
  with WGS-84.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

# Krasovsky 1940, the ellipsoid GCJ-02's offset is computed on.
_A: Final = 6378245.0
_EE: Final = 0.00669342162296594323
# BD-09's rotation and shift of GCJ-02.
_X_PI: Final = math.pi * 3000.0 / 180.0
# Digits kept in links and answers: 1e-6 degree is about 0.1 m.
_DIGITS: Final = 6


@dataclass(frozen=True)
class LatLng:
    latitude: float
    longitude: float


def in_china(latitude: float, longitude: float) -> bool:
    """The rough box the published algorithm offsets (not China's border)."""
    return 72.004 <= longitude <= 137.8347 and 0.8293 <= latitude <= 55.8271


def _offset_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _offset_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(point: LatLng) -> LatLng:
    """GCJ-02 of a WGS-84 point; unchanged outside China's box."""
    lat, lng = point.latitude, point.longitude
    if not in_china(lat, lng):
        return point
    d_lat = _offset_lat(lng - 105.0, lat - 35.0)
    d_lng = _offset_lng(lng - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return LatLng(lat + d_lat, lng + d_lng)


def gcj02_to_bd09(point: LatLng) -> LatLng:
    """BD-09 of a GCJ-02 point; unchanged outside China's box, as GCJ-02 is."""
    if not in_china(point.latitude, point.longitude):
        return point
    x, y = point.longitude, point.latitude
    z = math.hypot(x, y) + 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) + 0.000003 * math.cos(x * _X_PI)
    return LatLng(z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065)


def wgs84_to_bd09(point: LatLng) -> LatLng:
    return gcj02_to_bd09(wgs84_to_gcj02(point))


def _n(value: float) -> str:
    # Fixed digits, no exponent: a link must never say 1e-05.
    return f"{value:.{_DIGITS}f}"


@dataclass(frozen=True)
class MapLinks:
    amap: str
    baidu: str
    osm: str


def map_links(wgs84: LatLng, *, label: str) -> MapLinks:
    """Links that open the point in AMap, Baidu Maps and OpenStreetMap, marked ``label``."""
    gcj = wgs84_to_gcj02(wgs84)
    bd = gcj02_to_bd09(gcj)
    amap = urlencode(
        {
            "position": f"{_n(gcj.longitude)},{_n(gcj.latitude)}",
            "name": label,
            "coordinate": "gaode",
            "callnative": "1",
            "src": "community-hub",
        }
    )
    baidu = urlencode(
        {
            "location": f"{_n(bd.latitude)},{_n(bd.longitude)}",
            "title": label,
            "content": label,
            "coord_type": "bd09ll",
            "output": "html",
            "src": "community-hub",
        }
    )
    lat, lng = _n(wgs84.latitude), _n(wgs84.longitude)
    osm = urlencode({"mlat": lat, "mlon": lng})
    return MapLinks(
        amap=f"https://uri.amap.com/marker?{amap}",
        baidu=f"https://api.map.baidu.com/marker?{baidu}",
        osm=f"https://www.openstreetmap.org/?{osm}#map=18/{lat}/{lng}",
    )
