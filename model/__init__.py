"""The domain core, in four parts that import downward: contract <- rules <- estimators
<- recommend; ``settings`` and ``runtime`` are the product's configuration and process set-up."""
