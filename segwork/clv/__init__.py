"""CLV models: transaction models (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB), spend (Gamma-Gamma),
contractual retention (sBG), customer lifetime value and calibration/holdout validation."""
from .base import BaseModel
from .beta_geo import BetaGeo
from .bgbb import BetaGeoBetaBinom
from .gamma_gamma import GammaGamma
from .modified_beta_geo import ModifiedBetaGeo
from .pareto_nbd import ParetoNBD
from .sbg import ShiftedBetaGeometric
from .value import customer_lifetime_value, historical_value

__all__ = [
    "BaseModel", "BetaGeo", "ModifiedBetaGeo", "ParetoNBD", "BetaGeoBetaBinom", "GammaGamma",
    "ShiftedBetaGeometric",
    "customer_lifetime_value", "historical_value",
]
