passwd last django
group last django
