"""The programme catalogue: every rule pack the service decides with."""

from ..domain.rules import Catalogue
from . import sx_internship

CATALOGUE = Catalogue([sx_internship.PACK])
