"""Measures the chapters need: linearity (Z), loss landscapes, gradient noise, sparsity."""
