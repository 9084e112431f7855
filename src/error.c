/* error.c - the per-thread error message and the map to sysexits. */
#include <stdarg.h>
#include <stdio.h>
#include <sysexits.h>

#include "nl.h"

static _Thread_local char msg[1024];

enum nl_err nl_errf(enum nl_err code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return code;
}

const char *nl_errmsg(void)
{
	return msg;
}

int nl_exit_status(enum nl_err code)
{
	switch (code) {
	case NL_OK: return 0;
	case NL_EUSAGE: return EX_USAGE;
	case NL_EDATA: return EX_DATAERR;
	case NL_ENOINPUT: return EX_NOINPUT;
	case NL_ECONFIG: return EX_CONFIG;
	case NL_EIO: return EX_IOERR;
	case NL_ECANTCREAT: return EX_CANTCREAT;
	case NL_ENOMEM: return EX_OSERR;
	case NL_ETEMPFAIL: return EX_TEMPFAIL;
	case NL_EUNAVAILABLE: return EX_UNAVAILABLE;
	case NL_EPROTOCOL: return EX_PROTOCOL;
	case NL_ENOPERM: return EX_NOPERM;
	case NL_EINTERRUPTED: return 130;
	case NL_ELOCKED: return EX_TEMPFAIL;
	case NL_EINTERNAL: return EX_SOFTWARE;
	}
	return EX_SOFTWARE;
}
