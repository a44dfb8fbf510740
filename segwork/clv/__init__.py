"""CLV models: transaction models (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB), spend (Gamma-Gamma),
contractual retention (sBG), customer lifetime value and calibration/holdout validation."""
from .base import BaseModel
from .beta_geo import BetaGeo

__all__ = ["BaseModel", "BetaGeo"]
