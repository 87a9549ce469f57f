/* The service's name and version: what GET / says, and the packages' version. */
#ifndef RUNBOXD_VERSION_H
#define RUNBOXD_VERSION_H

#define RUNBOXD_VERSION "1.0.0"

/*
 * GET /, in docker-run's shape.  A constant, so whoever reads the request
 * may answer it: the reader does, a front only for a head it hands over.
 */
#define RUNBOXD_ROOT_BODY                                                      \
	"{\"name\":\"runboxd\",\"version\":\"" RUNBOXD_VERSION "\","           \
	"\"description\":\"Api for running code in transient docker containers\"}"

#endif
