"""fraudhawk: self-hosted fraud detection that speaks Amazon Fraud Detector's API."""

from fraudhawk.client import Client
from fraudhawk.errors import FraudhawkError

__all__ = ["Client", "FraudhawkError", "__version__"]
__version__ = "0.1.0"
