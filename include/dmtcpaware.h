/* dmtcpaware.h: the older programming interface of the seeds, also reachable
 * as <dmtcpaware.h> (the seeds spell it dmtcp/dmtcpaware.h). See
 * include/dmtcp/dmtcpaware.h and docs/api.md. */
#include "dmtcp/dmtcpaware.h"
