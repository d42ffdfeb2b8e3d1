/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	qr 3
 * SUMMARY
 *	draw a URL as a QR code on a terminal (libqrencode, optional)
 * DESCRIPTION
 *	sao_qr_print() draws text with Unicode half blocks (two modules per
 *	character cell), dark modules on a light quiet zone, so that a phone
 *	can read it off the admin's terminal.  It does nothing when f is not
 *	a terminal, when $TERM is "dumb", when the tool was built without
 *	libqrencode, or when the code would be wider than the terminal.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifdef HAVE_QRENCODE
#include <qrencode.h>
#endif

#include "sao.h"

#ifdef HAVE_QRENCODE
/* dark - module (x, y) is dark; outside the symbol is the quiet zone */
static int
dark(const QRcode *q, int x, int y)
{
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return 0;
	return q->data[y * q->width + x] & 1;
}
#endif

void
sao_qr_print(FILE *f, const char *text)
{
#ifdef HAVE_QRENCODE
	static const char *cells[4] = {"\u2588", "\u2580", "\u2584", " "};
	const char *term = getenv("TERM");
	struct winsize ws;
	QRcode *q;
	int quiet = 2;

	if (!isatty(fileno(f)) || term == NULL || strcmp(term, "dumb") == 0)
		return;
	if ((q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1)) == NULL)
		return;
	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
	    q->width + 2 * quiet > ws.ws_col) {
		QRcode_free(q);
		return;
	}
	fprintf(f, "or scan it with a phone:\n");
	/* Light background: a light cell is a full block, a dark one a blank. */
	for (int y = -quiet; y < q->width + quiet; y += 2) {
		for (int x = -quiet; x < q->width + quiet; x++) {
			int top = dark(q, x, y), bottom = dark(q, x, y + 1);

			fputs(cells[top * 2 + bottom], f);
		}
		fputc('\n', f);
	}
	QRcode_free(q);
#else
	(void)f;
	(void)text;
#endif
}
