# Example programs: small real programs a user can read in five minutes each. Makefile.am includes this
# file under BUILD_EXAMPLES (configure --disable-examples leaves them out); they are never installed.
