"""Model code: encoder adapter, span pooling, sampling, heads, losses, SpERT and SpERT.MT."""
