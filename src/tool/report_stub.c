#include <stdio.h>
#include "tool/report.h"
#define STUB(f) int f(report_t *r, sbuf_t *out, char *err, size_t errlen) { (void)r; (void)out; snprintf(err, errlen, #f " not implemented"); return -1; }







STUB(report_dot)
