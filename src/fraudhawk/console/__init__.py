"""The web console: every step of AFD's console, server-rendered, on the API's port.

A front door like the API: pages call the same `Service` operations (AFD's shapes) that boto3 reaches,
so the console can do nothing the API cannot check. See docs/architecture.md, "The console".
"""
