"""pisight device runtime: never imports TensorFlow."""
