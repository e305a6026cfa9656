#!/usr/bin/env python3
"""Generates the Liuzhou sample bundle in geofences/liuzhou/ (reproducible: fixed seed, only the
standard library). Run from anywhere:  python3 scripts/gen-liuzhou.py

The geography is synthetic but follows docs/domain.md section 7: the old core on the Liujiang
peninsula (time-restricted, trucks allowed 22:00-06:00), an arterial ring outside it, radial
roads across the bridges to the growth areas (柳东新区, 北部生态新区, 柳江区/拉堡, 阳和) and six
disposal grounds 8-16 km out. Coordinates are WGS-84, approximate (+-1 km), for demos and tests.

Guarantees checked here before writing (the Rust tests check them again with `geo`):
- every route ends inside its disposal ground and passes within its corridor of each site it
  serves, so every permit's routes lead from its site to each of its disposal grounds;
- no route corridor touches a restricted zone (schools, the weight-limited 柳江大桥);
- no route line crosses a site or a disposal ground other than its own destination;
- permits whose routes enter the time-restricted core allow transport only 22:00-06:00;
- routes crossing a speed zone have a route speed limit no higher than the zone's.
"""

import json
import math
import os
import random
import sys

SEED = 808
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "geofences", "liuzhou")

LAT0 = 24.32
MX = 111_320.0 * math.cos(math.radians(LAT0))  # metres per degree of longitude
MY = 110_574.0  # metres per degree of latitude


def to_m(p):
    return ((p[0] - 109.4) * MX, (p[1] - LAT0) * MY)


def to_deg(q):
    return (q[0] / MX + 109.4, q[1] / MY + LAT0)


# ---------------------------------------------------------------------------------------------
# Planar geometry in metres


def seg_point_dist(a, b, p):
    ax, ay = a
    bx, by = b
    px, py = p
    dx, dy = bx - ax, by - ay
    L = dx * dx + dy * dy
    t = 0.0 if L == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / L))
    cx, cy = ax + t * dx, ay + t * dy
    return math.hypot(px - cx, py - cy)


def orient(a, b, c):
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def segs_cross(a, b, c, d):
    d1, d2 = orient(c, d, a), orient(c, d, b)
    d3, d4 = orient(a, b, c), orient(a, b, d)
    return (d1 > 0) != (d2 > 0) and (d3 > 0) != (d4 > 0)


def seg_seg_dist(a, b, c, d):
    if segs_cross(a, b, c, d):
        return 0.0
    return min(seg_point_dist(a, b, c), seg_point_dist(a, b, d),
               seg_point_dist(c, d, a), seg_point_dist(c, d, b))


def point_in_poly(p, ring):
    x, y = p
    inside = False
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            xi = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xi:
                inside = not inside
    return inside


def line_poly_dist(line, ring):
    """Distance from a polyline to a polygon (0 if they touch or the line is inside)."""
    if any(point_in_poly(p, ring) for p in line):
        return 0.0
    best = float("inf")
    for i in range(len(line) - 1):
        for j in range(len(ring)):
            best = min(best, seg_seg_dist(line[i], line[i + 1], ring[j], ring[(j + 1) % len(ring)]))
    return best


def poly_poly_dist(r1, r2):
    if any(point_in_poly(p, r2) for p in r1) or any(point_in_poly(p, r1) for p in r2):
        return 0.0
    return line_poly_dist(r1 + [r1[0]], r2)


def densify(line, step=200.0):
    out = [line[0]]
    for a, b in zip(line, line[1:]):
        n = max(1, int(math.hypot(b[0] - a[0], b[1] - a[1]) // step))
        for k in range(1, n + 1):
            out.append((a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n))
    return out


def point_along(line, t):
    """Point and unit direction at fraction t of a polyline's length."""
    lengths = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(line, line[1:])]
    target = sum(lengths) * t
    for (a, b), L in zip(zip(line, line[1:]), lengths):
        if target <= L or L == lengths[-1]:
            f = 0 if L == 0 else min(1.0, target / L)
            return ((a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f),
                    ((b[0] - a[0]) / L, (b[1] - a[1]) / L))
        target -= L
    raise ValueError("empty line")


def rect(center, direction, along, across, rng, jitter=0.12):
    """A slightly irregular quadrilateral (convex, so always valid)."""
    ux, uy = direction
    vx, vy = -uy, ux
    corners = []
    for sa, sc in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        ja = 1 + rng.uniform(-jitter, jitter)
        jc = 1 + rng.uniform(-jitter, jitter)
        corners.append((center[0] + sa * along / 2 * ja * ux + sc * across / 2 * jc * vx,
                        center[1] + sa * along / 2 * ja * uy + sc * across / 2 * jc * vy))
    return corners


def circle_poly(center, radius, n, rng, jitter=0.15):
    pts = []
    for k in range(n):
        ang = 2 * math.pi * k / n
        r = radius * (1 + rng.uniform(-jitter, jitter))
        pts.append((center[0] + r * math.cos(ang), center[1] + r * math.sin(ang)))
    return pts


# ---------------------------------------------------------------------------------------------
# The map (degrees, WGS-84)

CORE = [(109.385, 24.298), (109.440, 24.298), (109.442, 24.323), (109.440, 24.348),
        (109.385, 24.348), (109.383, 24.323)]

# Arterial ring outside the core and its corners.
W1, W2, W3 = (109.372, 24.290), (109.372, 24.320), (109.372, 24.358)
N1, N2, N3 = (109.400, 24.360), (109.425, 24.360), (109.452, 24.358)
E1, E2 = (109.452, 24.325), (109.452, 24.288)
S1, S2 = (109.425, 24.286), (109.400, 24.286)

GROUNDS = [
    # id, name, centre, radius m
    ("dg-north", "沙塘建筑垃圾消纳场", (109.430, 24.458), 420),
    ("dg-east", "雒容建筑垃圾消纳场", (109.580, 24.400), 480),
    ("dg-southeast", "阳和建筑垃圾资源化利用厂", (109.500, 24.240), 380),
    ("dg-south", "白露建筑垃圾消纳场", (109.435, 24.195), 450),
    ("dg-southwest", "拉堡西建筑垃圾消纳场", (109.282, 24.240), 400),
    ("dg-west", "西鹅建筑垃圾消纳场", (109.300, 24.350), 430),
]
GROUND_CENTER = {g[0]: g[2] for g in GROUNDS}

# Routes: id, name, ground, waypoints (degrees), corridor m, speed limit km/h.
LIUDONG = (109.490, 24.365)
GUANTANG = (109.490, 24.335)
LABAO = (109.345, 24.268)
ROUTES = [
    ("r01", "北部生态新区—沙塘消纳场（北外环放射线）", "dg-north",
     [(109.402, 24.380), (109.410, 24.400), (109.420, 24.420), (109.425, 24.440)], 100, 50),
    ("r02", "柳北—北外环—沙塘消纳场", "dg-north",
     [W3, N1, (109.402, 24.380), (109.410, 24.400), (109.420, 24.420), (109.425, 24.440)], 100, 50),
    ("r03", "柳东新区—雒容消纳场（柳东大道）", "dg-east",
     [LIUDONG, (109.515, 24.372), (109.540, 24.385), (109.565, 24.395)], 100, 40),
    ("r04", "官塘—官塘大道—雒容消纳场", "dg-east",
     [GUANTANG, (109.510, 24.345), (109.528, 24.360), (109.540, 24.385), (109.565, 24.395)], 100, 40),
    ("r05", "阳和工业新区—阳和资源化利用厂", "dg-southeast",
     [(109.465, 24.275), (109.478, 24.262), (109.490, 24.250)], 100, 50),
    ("r06", "柳江区拉堡—拉堡西消纳场", "dg-southwest",
     [(109.360, 24.280), LABAO, (109.330, 24.258), (109.310, 24.250), (109.295, 24.243)], 100, 50),
    ("r07", "河西—西环路—西鹅消纳场", "dg-west",
     [W2, (109.355, 24.325), (109.335, 24.335), (109.315, 24.345)], 100, 50),
    ("r08", "鱼峰南—南环路—白露消纳场", "dg-south",
     [S1, (109.428, 24.265), (109.430, 24.240), (109.432, 24.215)], 100, 60),
    ("r09", "柳东新区—白沙大桥—东环大道—阳和资源化利用厂", "dg-southeast",
     [LIUDONG, (109.470, 24.362), N3, E1, E2, (109.465, 24.275), (109.478, 24.262), (109.490, 24.250)],
     100, 40),
    ("r10", "柳江区拉堡—南环路—白露消纳场", "dg-south",
     [LABAO, (109.360, 24.280), W1, S2, S1, (109.428, 24.265), (109.430, 24.240), (109.432, 24.215)],
     100, 50),
    ("r11", "北部生态新区—北外环—西环路—西鹅消纳场", "dg-west",
     [(109.420, 24.420), (109.410, 24.400), (109.402, 24.380), N1, W3, W2, (109.355, 24.325),
      (109.335, 24.335), (109.315, 24.345)], 100, 50),
    ("r12", "官塘—官塘大桥—东环大道—阳和资源化利用厂", "dg-southeast",
     [GUANTANG, (109.470, 24.328), E1, E2, (109.465, 24.275), (109.478, 24.262), (109.490, 24.250)],
     100, 50),
    ("r13", "阳和—南环路—白露消纳场", "dg-south",
     [(109.478, 24.262), (109.465, 24.275), E2, S1, (109.428, 24.265), (109.430, 24.240),
      (109.432, 24.215)], 100, 50),
    ("r14", "柳南西环—拉堡西消纳场", "dg-southwest",
     [W2, W1, (109.360, 24.280), LABAO, (109.330, 24.258), (109.310, 24.250), (109.295, 24.243)],
     100, 50),
    ("r15", "柳北—胜利路—文惠桥—白露消纳场（夜间穿城）", "dg-south",
     [(109.402, 24.380), N1, (109.405, 24.345), (109.418, 24.320), (109.423, 24.303), S1,
      (109.428, 24.265), (109.430, 24.240), (109.432, 24.215)], 80, 40),
    ("r16", "河西—壶西大桥—城中—官塘大桥—雒容消纳场（夜间穿城）", "dg-east",
     [(109.352, 24.318), W2, (109.388, 24.322), (109.430, 24.326), E1, (109.470, 24.328), GUANTANG,
      (109.510, 24.345), (109.528, 24.360), (109.540, 24.385), (109.565, 24.395)], 80, 40),
    ("r17", "鱼峰旧城改造—壶东大桥—阳和资源化利用厂（夜间）", "dg-southeast",
     [(109.431, 24.312), (109.441, 24.300), E2, (109.465, 24.275), (109.478, 24.262),
      (109.490, 24.250)], 80, 40),
    ("r18", "柳东新区—白沙大桥—北外环—沙塘消纳场", "dg-north",
     [LIUDONG, (109.470, 24.362), N3, N2, N1, (109.402, 24.380), (109.410, 24.400), (109.420, 24.420),
      (109.425, 24.440)], 100, 40),
    ("r19", "北部生态新区—柳东北连接线—雒容消纳场", "dg-east",
     [(109.420, 24.420), (109.450, 24.405), (109.480, 24.390), (109.515, 24.385), (109.540, 24.385),
      (109.565, 24.395)], 100, 40),
    ("r20", "柳江区—洛维—西鹅消纳场", "dg-west",
     [(109.330, 24.258), (109.336, 24.290), (109.330, 24.320), (109.315, 24.345)], 100, 50),
]

# Sites: id, name, route it sits on, fraction along that route, side (+1 left, -1 right).
SITES = [
    ("s01", "北部生态新区科创城一期", "r01", 0.10, 1),
    ("s02", "北部生态新区安置房二期", "r01", 0.45, -1),
    ("s03", "柳北工业区厂房改造项目", "r02", 0.22, 1),
    ("s04", "北外环道路拓宽工程", "r02", 0.12, -1),
    ("s05", "柳东新区汽车城配套项目", "r03", 0.02, 1),
    ("s06", "柳东新区人才公寓", "r03", 0.30, -1),
    ("s07", "柳东大道综合管廊", "r03", 0.80, 1),
    ("s08", "官塘创业园三期", "r04", 0.05, -1),
    ("s09", "官塘大道地下通道", "r04", 0.35, 1),
    ("s10", "阳和工业新区标准厂房", "r05", 0.08, 1),
    ("s11", "阳和物流园", "r05", 0.55, -1),
    ("s12", "拉堡新城综合体", "r06", 0.12, 1),
    ("s13", "柳江区人民医院新院区", "r06", 0.27, -1),
    ("s14", "拉堡西片区安置房", "r06", 0.62, 1),
    ("s15", "河西片区棚户区改造", "r07", 0.20, 1),
    ("s16", "西环路立交工程", "r07", 0.55, -1),
    ("s17", "鱼峰南站片区开发", "r08", 0.10, -1),
    ("s18", "南环路商业综合体", "r08", 0.42, 1),
    ("s19", "柳东新区白沙片区住宅", "r09", 0.04, -1),
    ("s20", "东环大道地铁站点", "r09", 0.42, 1),
    ("s21", "南环路学校扩建", "r10", 0.45, 1),
    ("s22", "北部生态新区水厂", "r11", 0.06, 1),
    ("s23", "官塘大桥东引道", "r12", 0.10, 1),
    ("s24", "阳和大道拓宽", "r13", 0.06, -1),
    ("s25", "柳南区厂房拆除", "r14", 0.08, -1),
    ("s26", "柳北胜利路旧改", "r15", 0.03, 1),
    ("s27", "河西壶西片区更新", "r16", 0.05, -1),
    ("s28", "鱼峰旧城改造项目", "r17", 0.03, 1),
    ("s29", "北部生态新区医院", "r19", 0.25, 1),
    ("s30", "洛维工业园", "r20", 0.30, 1),
]

SCHOOLS = [
    ("z-school-gaozhong", "柳州高级中学（禁行区）", (109.426, 24.340), 160),
    ("z-school-liujiang", "柳江区实验小学（禁行区）", (109.352, 24.252), 150),
    ("z-school-liudong", "柳东新区第一中学（禁行区）", (109.502, 24.352), 170),
    ("z-school-yufeng", "鱼峰区第二中学（禁行区）", (109.445, 24.268), 150),
]
BRIDGE = ("z-bridge-liujiang", "柳江大桥（限重禁行）",
          [(109.4070, 24.2955), (109.4125, 24.2955), (109.4125, 24.3070), (109.4070, 24.3070)])
SPEED_ZONES = [
    ("z-speed-liudong", "柳东新区居住区限速区", 40,
     [(109.495, 24.355), (109.530, 24.355), (109.530, 24.390), (109.495, 24.390)]),
    ("z-speed-yangji", "阳和物流园限速区", 50,
     [(109.470, 24.245), (109.495, 24.245), (109.495, 24.270), (109.470, 24.270)]),
]
LON_SPLITS = [109.25, 109.37, 109.42, 109.47, 109.62]
LAT_SPLITS = [24.17, 24.32, 24.48]
DISTRICT_NAMES = [
    ("z-district-liujiang", "柳江中队"), ("z-district-hexi", "河西中队"),
    ("z-district-liunan", "柳南中队"), ("z-district-chengzhong", "城中中队"),
    ("z-district-yufeng", "鱼峰中队"), ("z-district-hedong", "河东中队"),
    ("z-district-yanghe", "阳和中队"), ("z-district-liudong", "柳东中队"),
]

COMPANY_NAMES = [
    "柳州市龙城渣土运输有限公司", "柳州市壶城建筑垃圾清运有限公司", "广西柳东新区运通工程运输有限公司",
    "柳州市鱼峰土石方工程有限公司", "柳州市柳江区顺达运输有限公司", "柳州市北部新区绿建运输有限公司",
    "柳州市鹏程渣土运输有限公司", "柳州市河西联运工程有限公司", "柳州市阳和物流运输有限公司",
    "柳州市宏远建筑垃圾处置有限公司",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗韦覃蓝莫梁"
GIVEN = "伟强军平刚明勇华建国志红海波斌峰磊超鹏涛辉杰宇林文斌东晨"
PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def check(condition, message):
    if not condition:
        sys.exit(f"gen-liuzhou: constraint broken: {message}")


def rnd6(p):
    return [round(p[0], 6), round(p[1], 6)]


def ring_deg(ring_m):
    pts = [to_deg(q) for q in ring_m]
    return [rnd6(p) for p in pts] + [rnd6(pts[0])]


def feature(fid, geometry, props):
    return {"type": "Feature", "id": fid, "properties": props, "geometry": geometry}


def main():
    rng = random.Random(SEED)
    core_m = [to_m(p) for p in CORE]

    grounds_m = {}
    for gid, _name, center, radius in GROUNDS:
        grounds_m[gid] = circle_poly(to_m(center), radius, 10, rng, 0.12)

    routes_m = {}
    for rid, _name, ground, pts, _corr, _speed in ROUTES:
        line = [to_m(p) for p in pts] + [to_m(GROUND_CENTER[ground])]
        routes_m[rid] = densify(line, 250.0)

    sites_m = {}
    for sid, _name, rid, t, side in SITES:
        (cx, cy), (ux, uy) = point_along(routes_m[rid], t)
        along = rng.uniform(160, 260)
        across = rng.uniform(120, 200)
        gap = 30.0
        off = side * (gap + across / 2)
        center = (cx - uy * off, cy + ux * off)
        sites_m[sid] = rect(center, (ux, uy), along, across, rng, 0.08)

    schools_m = {zid: circle_poly(to_m(c), r, 8, rng, 0.1) for zid, _n, c, r in SCHOOLS}
    bridge_m = [to_m(p) for p in BRIDGE[2]]
    restricted = dict(schools_m)
    restricted[BRIDGE[0]] = bridge_m

    # --- constraints -------------------------------------------------------------------------
    corridor = {r[0]: r[4] for r in ROUTES}
    route_ground = {r[0]: r[2] for r in ROUTES}
    for rid, line in routes_m.items():
        check(point_in_poly(line[-1], grounds_m[route_ground[rid]]),
              f"{rid} does not end inside {route_ground[rid]}")
        for zid, ring in restricted.items():
            d = line_poly_dist(line, ring)
            check(d > corridor[rid] + 50, f"{rid} passes {d:.0f} m from restricted zone {zid}")
        for gid, ring in grounds_m.items():
            if gid != route_ground[rid]:
                d = line_poly_dist(line, ring)
                check(d > 150, f"{rid} passes {d:.0f} m from disposal ground {gid}")
        for sid, ring in sites_m.items():
            d = line_poly_dist(line, ring)
            check(d > 10, f"{rid} runs through site {sid}")
    site_list = list(sites_m.items())
    for i, (a, ra) in enumerate(site_list):
        # Only the old-town redevelopment site (s28) lies in the core; its permit is night-only.
        check(poly_poly_dist(ra, core_m) > 0 or a == "s28", f"site {a} is inside the core")
        for b, rb in site_list[i + 1:]:
            check(poly_poly_dist(ra, rb) > 20, f"sites {a} and {b} overlap")
        for gid, rg in grounds_m.items():
            check(poly_poly_dist(ra, rg) > 200, f"site {a} is next to ground {gid}")
        for zid, rz in restricted.items():
            check(poly_poly_dist(ra, rz) > 100, f"site {a} is next to restricted zone {zid}")
    for zid, rz in restricted.items():
        for gid, rg in grounds_m.items():
            check(poly_poly_dist(rz, rg) > 200, f"{zid} is next to {gid}")

    # Which routes serve each site: the site is within 40 m of the route line.
    # The route a site was placed on comes first.
    serving = {}
    for sid, _name, own, _t, _side in SITES:
        ring = sites_m[sid]
        others = sorted(rid for rid, line in routes_m.items()
                        if rid != own and line_poly_dist(line, ring) <= 40)
        check(line_poly_dist(routes_m[own], ring) <= 40, f"site {sid} is off its route {own}")
        serving[sid] = [own] + others
    enters_core = {rid: line_poly_dist(line, core_m) <= corridor[rid] for rid, line in routes_m.items()}
    speed_zone_m = {z[0]: ([to_m(p) for p in z[3]], z[2]) for z in SPEED_ZONES}
    for rid, _n, _g, _p, _c, speed in ROUTES:
        for zid, (ring, limit) in speed_zone_m.items():
            if line_poly_dist(routes_m[rid], ring) <= corridor[rid]:
                check(speed <= limit, f"{rid} ({speed} km/h) crosses {zid} ({limit} km/h)")

    # --- GeoJSON -----------------------------------------------------------------------------
    def polygon_geom(ring_m):
        return {"type": "Polygon", "coordinates": [ring_deg(ring_m)]}

    sites_fc = {"type": "FeatureCollection", "coord_sys": "wgs84", "features": [
        feature(sid, polygon_geom(sites_m[sid]), {"name": name})
        for sid, name, *_ in SITES]}
    grounds_fc = {"type": "FeatureCollection", "coord_sys": "wgs84", "features": [
        feature(gid, polygon_geom(grounds_m[gid]), {"name": name}) for gid, name, *_ in GROUNDS]}
    routes_fc = {"type": "FeatureCollection", "coord_sys": "wgs84", "features": [
        feature(rid, {"type": "LineString", "coordinates": [rnd6(to_deg(q)) for q in routes_m[rid]]},
                {"name": name, "corridor_m": corr, "speed_limit_kmh": speed})
        for rid, name, _g, _p, corr, speed in ROUTES]}

    zones = []
    zones.append(feature("z-core", {"type": "Polygon", "coordinates": [[rnd6(p) for p in CORE + [CORE[0]]]]},
                         {"name": "中心城区渣土车限行区（22:00-06:00 准入）", "kind": "time_restricted",
                          "allowed": [{"days": "mon-sun", "start": "22:00", "end": "06:00"}]}))
    for zid, name, _c, _r in SCHOOLS:
        zones.append(feature(zid, polygon_geom(schools_m[zid]), {"name": name, "kind": "restricted"}))
    zones.append(feature(BRIDGE[0], {"type": "Polygon", "coordinates": [[rnd6(p) for p in BRIDGE[2] + [BRIDGE[2][0]]]]},
                         {"name": BRIDGE[1], "kind": "restricted"}))
    for zid, name, limit, ring in SPEED_ZONES:
        zones.append(feature(zid, {"type": "Polygon", "coordinates": [[rnd6(p) for p in ring + [ring[0]]]]},
                             {"name": name, "kind": "speed", "speed_limit_kmh": limit}))
    k = 0
    for i in range(len(LON_SPLITS) - 1):
        for j in range(len(LAT_SPLITS) - 1):
            x0, x1 = LON_SPLITS[i], LON_SPLITS[i + 1]
            y0, y1 = LAT_SPLITS[j], LAT_SPLITS[j + 1]
            zid, name = DISTRICT_NAMES[k]
            k += 1
            ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
            zones.append(feature(zid, {"type": "Polygon", "coordinates": [[rnd6(p) for p in ring]]},
                                 {"name": name, "kind": "district"}))
    zones_fc = {"type": "FeatureCollection", "coord_sys": "wgs84", "features": zones}

    # --- registry.json -----------------------------------------------------------------------
    def person():
        return rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")

    companies = []
    for i, name in enumerate(COMPANY_NAMES, start=1):
        org = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        check_char = rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY")
        companies.append({"id": f"c{i:02d}", "name": name, "uscc": f"91450200{org}{check_char}"})

    vehicles, terminals, drivers = [], [], []
    plates = set()
    phones = set()
    for n in range(1, 201):
        company = companies[(n - 1) % len(companies)]["id"]
        while True:
            plate = "桂B" + "".join(rng.choice(PLATE_CHARS) for _ in range(5))
            if plate not in plates:
                plates.add(plate)
                break
        smart = rng.random() < 0.6
        vehicles.append({
            "id": f"v{n:03d}", "plate": plate, "plate_color": 2, "company_id": company,
            "rated_load_kg": rng.choice([15500, 16000, 17500, 18000, 19500, 21000]),
            "sensors": {"load": smart, "lift": smart, "lid": smart, "weight": smart and rng.random() < 0.5},
        })
        while True:
            phone = "0" + rng.choice(["139", "138", "177", "147", "199"]) + "".join(
                rng.choice("0123456789") for _ in range(8))
            if phone not in phones:
                phones.add(phone)
                break
        protocol = rng.choices(["2013", "2019", "2011"], weights=[70, 25, 5])[0]
        terminals.append({"phone": phone, "vehicle_id": f"v{n:03d}",
                          "model": "smart-muck" if smart else "generic", "protocol": protocol})
    for n in range(1, 241):
        company = companies[(n - 1) % len(companies)]["id"]
        drivers.append({"id": f"d{n:03d}", "name": person(),
                        "license_no": "4502" + "".join(rng.choice("0123456789") for _ in range(13))
                        + rng.choice("0123456789X"), "company_id": company})

    officers = []
    for zid, _name in DISTRICT_NAMES:
        for _ in range(3):
            officers.append({"id": f"o{len(officers) + 1:02d}", "name": person(), "district_zone_id": zid})

    by_company = {c["id"]: [v["id"] for v in vehicles if v["company_id"] == c["id"]] for c in companies}
    permits = []
    for i, (sid, _name, _r, _t, _s) in enumerate(SITES, start=1):
        company = companies[(i - 1) % len(companies)]["id"]
        pool = by_company[company]
        count = rng.randint(4, 6)
        chosen, by_company[company] = pool[:count], pool[count:]
        check(chosen, f"company {company} ran out of vehicles")
        routes = serving[sid][:2]
        grounds = sorted({route_ground[r] for r in routes})
        night = any(enters_core[r] for r in routes)
        if night:
            windows = [{"start": "22:00", "end": "06:00"}]
        elif rng.random() < 0.5:
            windows = []
        else:
            windows = [{"start": "06:00", "end": "12:00"}, {"start": "14:00", "end": "22:00"}]
        permits.append({
            "id": f"p{i:02d}", "number": f"柳建渣准字〔2026〕第{100 + i:03d}号", "company_id": company,
            "vehicle_ids": chosen, "site_id": sid, "disposal_ground_ids": grounds, "route_ids": routes,
            "valid_from": "2026-01-01", "valid_to": "2028-12-31", "daily_windows": windows,
        })

    registry = {"companies": companies, "vehicles": vehicles, "terminals": terminals,
                "drivers": drivers, "officers": officers, "permits": permits}

    os.makedirs(OUT, exist_ok=True)
    for name, doc in [("sites.geojson", sites_fc), ("disposal_grounds.geojson", grounds_fc),
                      ("routes.geojson", routes_fc), ("zones.geojson", zones_fc),
                      ("registry.json", registry)]:
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")
    night = sum(1 for p in permits if p["daily_windows"] == [{"start": "22:00", "end": "06:00"}])
    print(f"wrote {OUT}: {len(SITES)} sites, {len(GROUNDS)} disposal grounds, {len(ROUTES)} routes, "
          f"{len(zones)} zones, {len(companies)} companies, {len(vehicles)} vehicles, "
          f"{len(permits)} permits ({night} night-only)")


if __name__ == "__main__":
    main()
