"""The HTTP server: AFD's AWS JSON 1.1 wire protocol over the service layer."""
