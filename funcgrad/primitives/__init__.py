"""funcgrad.primitives: the primitives, by family, each declared once with its numpy implementation,
shape rule, VJP rules and batching rule. Exact: operands have the shapes and dtypes the
primitive expects; funcgrad.numpy does numpy's broadcasting and promotion before binding.
"""
