"""Tiny COCO and VOC trees in their real on-disk layouts, written by the detection tests."""
from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

CATEGORIES = [{"id": 1, "name": "one"}, {"id": 3, "name": "three"}, {"id": 7, "name": "seven"}]


def write_jpg(path: Path, size: tuple[int, int] = (40, 32)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 60, 30)).save(path)


def write_coco(root: Path, annotations: dict[str, list[dict]] | None = None) -> Path:
    """coco/{train2017,val2017}/*.jpg + annotations/instances_*.json: non-contiguous ids, an empty image, a crowd."""
    anns = annotations or {
        "train2017": [{"id": 1, "image_id": 10, "category_id": 7, "bbox": [2, 3, 10, 12], "iscrowd": 0, "area": 120},
                      {"id": 2, "image_id": 10, "category_id": 3, "bbox": [20, 5, 8, 8], "iscrowd": 1, "area": 64,
                       "segmentation": {"counts": [0, 1280], "size": [32, 40]}},
                      {"id": 3, "image_id": 12, "category_id": 1, "bbox": [5, 5, 20, 10], "iscrowd": 0, "area": 200}],
        "val2017": [{"id": 4, "image_id": 20, "category_id": 3, "bbox": [1, 1, 30, 20], "iscrowd": 0, "area": 600},
                    {"id": 5, "image_id": 20, "category_id": 7, "bbox": [0, 0, 40, 32], "iscrowd": 1, "area": 1280}],
    }
    images = {"train2017": [10, 11, 12], "val2017": [20, 21]}
    coco = root / "coco"
    for split, ids in images.items():
        for i in ids:
            write_jpg(coco / split / f"{i:012d}.jpg")
        info = [{"id": i, "file_name": f"{i:012d}.jpg", "width": 40, "height": 32} for i in ids]
        path = coco / "annotations" / f"instances_{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"images": info, "annotations": anns[split], "categories": CATEGORIES}))
    return coco


VOC_OBJECT = ("<object><name>{name}</name><pose>Left</pose><truncated>0</truncated><difficult>{difficult}</difficult>"
              "<bndbox><xmin>{box[0]}</xmin><ymin>{box[1]}</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax></bndbox>"
              "</object>")


def write_voc(root: Path, objects: dict[str, list[tuple]]) -> None:
    """VOCdevkit/VOC2012/{JPEGImages,Annotations,ImageSets/Main}: one XML per image, objects (name, difficult, box)."""
    base = root / "VOCdevkit" / "VOC2012"
    for stem, objs in objects.items():
        write_jpg(base / "JPEGImages" / f"{stem}.jpg")
        body = "".join(VOC_OBJECT.format(name=n, difficult=d, box=b) for n, d, b in objs)
        xml = (f"<annotation><folder>VOC2012</folder><filename>{stem}.jpg</filename><size><width>40</width>"
               f"<height>32</height><depth>3</depth></size><segmented>0</segmented>{body}</annotation>")
        (base / "Annotations").mkdir(parents=True, exist_ok=True)
        (base / "Annotations" / f"{stem}.xml").write_text(xml)
    (base / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    stems = list(objects)
    (base / "ImageSets" / "Main" / "train.txt").write_text("\n".join(stems[:-1]) + "\n")
    (base / "ImageSets" / "Main" / "val.txt").write_text(stems[-1] + "\n")
