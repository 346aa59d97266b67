"""The supervisor side: the code that runs where containers are followed, the only kind of
process with a Docker socket (inside the server by default, `manage.py sandbox_supervisor` when
scaled out). Web code reaches it only by name, through sandbox/seam.py."""
