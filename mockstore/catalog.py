"""Default products of the mock store: weights, sizes and looks, and the detector's class list."""

from __future__ import annotations

from dataclasses import dataclass

SHAPES = ("box", "can", "bottle", "bag")


@dataclass(frozen=True)
class Product:
    """One product of the catalog and how it looks.

    Sizes are metres (``width_m`` along the shelf, ``depth_m`` into it, ``height_m`` up); weights are
    grams (``weight_g`` is the true mean of single items, ``weight_std_g`` their spread); colours are
    BGR 0-255. ``stripes`` is the number of dark print lines on the label band (a per-product mark).
    """

    sku: str
    name: str
    shape: str
    width_m: float
    depth_m: float
    height_m: float
    weight_g: float
    weight_std_g: float
    color_bgr: tuple[int, int, int]
    band_bgr: tuple[int, int, int]
    cap_bgr: tuple[int, int, int] = (200, 200, 200)
    label: str = ""
    stripes: int = 1

    def to_dict(self) -> dict:
        return {
            "sku": self.sku,
            "name": self.name,
            "shape": self.shape,
            "size_m": [self.width_m, self.depth_m, self.height_m],
            "weight_g": self.weight_g,
            "weight_std_g": self.weight_std_g,
            "color_bgr": list(self.color_bgr),
            "band_bgr": list(self.band_bgr),
            "cap_bgr": list(self.cap_bgr),
            "label": self.label,
            "stripes": self.stripes,
        }


def default_catalog() -> tuple[Product, ...]:
    """The ten default products, in a fixed order (the detector's class order).

    Weights span 48 g to 1.48 kg; near pairs within 5 %: cola/lemon cans (368/372 g), cereal/pasta
    (510/505 g), water/rice (1040/1010 g). The detergent is wide enough to span two plates.
    """
    return (
        Product("012001", "Cola can 500ml", "can", 0.068, 0.068, 0.168, 368.0, 3.0,
                (40, 30, 200), (235, 235, 235), (190, 190, 190), "COLA", 1),
        Product("012002", "Lemon soda can 500ml", "can", 0.068, 0.068, 0.168, 372.0, 3.0,
                (60, 210, 230), (40, 150, 40), (190, 190, 190), "LEMON", 2),
        Product("012003", "Water bottle 1L", "bottle", 0.085, 0.085, 0.29, 1040.0, 6.0,
                (235, 200, 150), (200, 90, 20), (240, 120, 20), "AQUA", 1),
        Product("012004", "Cereal box", "box", 0.20, 0.075, 0.28, 510.0, 5.0,
                (20, 140, 250), (40, 40, 200), label="FLAKES", stripes=2),
        Product("012005", "Crisps bag", "bag", 0.19, 0.08, 0.25, 160.0, 2.0,
                (150, 40, 130), (60, 220, 250), label="CRISP", stripes=1),
        Product("012006", "Chocolate multipack", "box", 0.17, 0.05, 0.09, 48.0, 1.0,
                (30, 60, 110), (170, 200, 230), label="CHOC", stripes=3),
        Product("012007", "Laundry detergent 1.3L", "bottle", 0.22, 0.11, 0.27, 1480.0, 10.0,
                (200, 110, 20), (245, 245, 245), (30, 30, 220), "WASH", 2),
        Product("012008", "Rice bag 1kg", "bag", 0.18, 0.09, 0.26, 1010.0, 8.0,
                (230, 240, 240), (40, 150, 30), label="RICE", stripes=2),
        Product("012009", "Green tea box", "box", 0.15, 0.08, 0.10, 110.0, 2.0,
                (60, 160, 60), (230, 250, 250), label="TEA", stripes=1),
        Product("012010", "Pasta pack 500g", "bag", 0.13, 0.06, 0.27, 505.0, 4.0,
                (70, 220, 250), (170, 60, 30), label="PASTA", stripes=3),
    )


def detector_class_names(products: tuple[Product, ...] | None = None) -> list[str]:
    """Detector classes: ``["shopper", "hand", "sku_<sku>" for each product in catalog order]``."""
    products = default_catalog() if products is None else products
    return ["shopper", "hand", *[f"sku_{p.sku}" for p in products]]
