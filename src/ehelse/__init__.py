"""ehelse: an open, FHIR R4-native e-health platform for Norway."""

__version__ = "0.1.0"
FHIR_VERSION = "4.0.1"
