#!/usr/bin/env python3
"""Deterministic synthetic catalog for search benchmarks: datasets with bilingual metadata,
column lists, column values and years, shaped like a national statistics portal's.

    gen_catalog.py --n 10000 --seed 42 --out catalog.jsonl

One JSON object per line with the fields of search_index::IndexedDataset. Same arguments,
same bytes. Only the Python standard library is used.
"""
import argparse
import json
import random

TOPICS = [
    ("Хүн амын тоо", "Population", ["хүн ам", "population"]),
    ("Төрөлт", "Births", ["хүн ам", "population"]),
    ("Нас баралт", "Deaths", ["эрүүл мэнд", "health"]),
    ("Малын тоо", "Livestock", ["мал", "livestock"]),
    ("Ажилгүйдлийн түвшин", "Unemployment rate", ["хөдөлмөр", "labour"]),
    ("Дундаж цалин", "Average wages", ["хөдөлмөр", "labour"]),
    ("Хэрэглээний үнийн индекс", "Consumer price index", ["үнэ", "prices"]),
    ("Экспорт", "Exports", ["гадаад худалдаа", "trade"]),
    ("Импорт", "Imports", ["гадаад худалдаа", "trade"]),
    ("Нүүрсний олборлолт", "Coal production", ["уул уурхай", "mining"]),
    ("Зэсийн баяжмал", "Copper concentrate", ["уул уурхай", "mining"]),
    ("Агаарын чанар", "Air quality", ["агаарын бохирдол", "air pollution"]),
    ("Усны чанар", "Water quality", ["байгаль орчин", "environment"]),
    ("Сургуулийн суралцагчид", "School pupils", ["боловсрол", "education"]),
    ("Цэцэрлэгийн хүүхэд", "Kindergarten children", ["боловсрол", "education"]),
    ("Эмнэлгийн ор", "Hospital beds", ["эрүүл мэнд", "health"]),
    ("Зам тээврийн осол", "Road accidents", ["тээвэр", "transport"]),
    ("Гэмт хэрэг", "Crimes", ["аюулгүй байдал", "safety"]),
    ("Жуулчдын ирэлт", "Tourist arrivals", ["аялал жуулчлал", "tourism"]),
    ("Цахилгааны үйлдвэрлэл", "Electricity generation", ["эрчим хүч", "energy"]),
    ("Улсын төсвийн орлого", "State budget revenue", ["төсөв", "budget"]),
    ("Улсын төсвийн зарлага", "State budget expenditure", ["төсөв", "budget"]),
    ("Ядуурлын түвшин", "Poverty rate", ["ядуурал", "poverty"]),
    ("Орон сууцны үнэ", "Housing prices", ["орон сууц", "housing"]),
    ("Шилжих хөдөлгөөн", "Internal migration", ["хүн ам", "population"]),
    ("Улаан буудайн ургац", "Wheat harvest", ["газар тариалан", "agriculture"]),
    ("Ойн түймэр", "Forest fires", ["гамшиг", "disaster"]),
    ("Үүрэн холбооны хэрэглэгч", "Mobile subscribers", ["харилцаа холбоо", "telecom"]),
    ("Валютын ханш", "Exchange rates", ["санхүү", "finance"]),
    ("Зээлийн үлдэгдэл", "Outstanding loans", ["санхүү", "finance"]),
]
BREAKDOWNS = [
    ("аймаг, нийслэлээр", "by aimag and the capital", "Аймаг", "aimag"),
    ("сумаар", "by soum", "Сум", "sum"),
    ("сараар", "monthly", "Сар", "sar"),
    ("улирлаар", "quarterly", "Улирал", "uliral"),
    ("хүйсээр", "by sex", "Хүйс", "khuis"),
    ("насны бүлгээр", "by age group", "Насны бүлэг", "nasny_buleg"),
    ("салбараар", "by sector", "Салбар", "salbar"),
    ("дүүргээр", "by district", "Дүүрэг", "duureg"),
]
AIMAGS = ["Архангай", "Баян-Өлгий", "Баянхонгор", "Булган", "Говь-Алтай", "Говьсүмбэр",
          "Дархан-Уул", "Дорноговь", "Дорнод", "Дундговь", "Завхан", "Орхон", "Өвөрхангай",
          "Өмнөговь", "Сүхбаатар", "Сэлэнгэ", "Төв", "Увс", "Ховд", "Хөвсгөл", "Хэнтий",
          "Улаанбаатар"]
OTHER_VALUES = ["Эрэгтэй", "Эмэгтэй", "Хонь", "Ямаа", "Үхэр", "Адуу", "Тэмээ", "Хөдөө аж ахуй",
                "Уул уурхай", "Боловсрол", "Баянзүрх", "Сонгинохайрхан", "Хан-Уул", "Нүүрс",
                "Зэс", "Алт", "USD", "CNY", "Хятад", "Орос"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default="catalog.jsonl")
    a = p.parse_args()
    rng = random.Random(a.seed)
    orgs = [(f"agency-{i:02d}", f"Байгууллага {i:02d}", f"Agency {i:02d}") for i in range(86)]
    with open(a.out, "w", encoding="utf-8") as out:
        for i in range(a.n):
            mn, en, tags = rng.choice(TOPICS)
            b_mn, b_en, col_label, col_name = rng.choice(BREAKDOWNS)
            start = rng.randint(1990, 2020)
            end = rng.randint(start, 2025)
            org = rng.choice(orgs)
            region = rng.choice(AIMAGS) if rng.random() < 0.3 else None
            title = f"{mn}, {b_mn}" + (f", {region}" if region else "")
            title_en = f"{en}, {b_en}" + (f", {region}" if region else "")
            columns = [f"{col_label} ({col_name})", "Он (on)", f"{mn} (utga)"]
            columns += [f"Үзүүлэлт {k} (uzuulelt_{k})" for k in range(rng.randint(2, 12))]
            values = rng.sample(AIMAGS, rng.randint(0, 22)) if col_name in ("aimag", "sum") else rng.sample(OTHER_VALUES, rng.randint(0, 6))
            doc = {
                "id": f"ds-{i:05d}",
                "title": title,
                "title_en": title_en,
                "description": f"{mn} {b_mn}, {start}-{end} он. Эх сурвалж: {org[1]}.",
                "description_en": f"{en} {b_en}, {start}-{end}. Source: {org[2]}.",
                "organization": org[0],
                "organization_names": [org[1], org[2]],
                "tags": tags + rng.sample(["статистик", "statistics", "нээлттэй өгөгдөл", "open data"], 2),
                "license": rng.choice(["CC-BY-4.0", "CC0-1.0", "ODbL-1.0"]),
                "formats": [rng.choice(["csv", "xlsx", "json"])],
                "columns": columns,
                "values": sorted(values),
                "years": [start, end],
                "updated_at": 1_700_000_000_000_000 + i * 1_000_000,
            }
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
