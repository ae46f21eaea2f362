#!/bin/sh
# A test of the sample app: the examples/tests buildpack runs every tests/*.sh
# and publishes a JUnit report of the results as an OCI artifact.
[ -f index.js ]
