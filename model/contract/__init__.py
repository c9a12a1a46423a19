"""The data contract: the columns of the brief (one definition, with units and ranges),
table validation, the API's patient model, cross-field rules and the domain errors."""
