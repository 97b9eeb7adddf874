"""The application service: one entry point that validates a request against AFD's contract and runs it.

Both front doors (the HTTP server and the in-process `fraudhawk.Client`) call `Service.call`.
"""
