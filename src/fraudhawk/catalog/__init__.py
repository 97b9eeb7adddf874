"""The resources that describe events: entity types, event types, variables, labels, outcomes, lists,
tags and the KMS key setting, with AFD's semantics."""
