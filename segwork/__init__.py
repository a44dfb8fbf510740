"""segwork: customer segmentation and customer lifetime value (CLV) workbench."""
__version__ = "0.1.0"
