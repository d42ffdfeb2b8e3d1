/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	doctor-relay 3
 * SUMMARY
 *	sasl-oauth2 doctor: smtp_sasl_* settings, relays, their map keys, TLS
 * SYNOPSIS
 *	#include "doctor.h"
 *
 *	void doc_check_settings(struct doc *d);
 *	void doc_check_relays(struct doc *d);
 * DESCRIPTION
 *	doc_check_settings() checks smtp_sasl_auth_enable,
 *	smtp_sasl_password_maps, smtp_sasl_security_options and
 *	smtp_sasl_tls_security_options (none may exclude a bearer-token
 *	mechanism; without "noplaintext" and without a mechanism filter
 *	libsasl2 may pick PLAIN or LOGIN and send the token file's path as a
 *	password), smtp_sasl_mechanism_filter, and smtp_tls_security_level.
 *
 *	doc_check_relays() collects the next hops mail goes to (relayhost,
 *	a next hop in default_transport, the values of transport_maps and
 *	sender_dependent_relayhost_maps); checks that every file map involved
 *	is postmap'ed and not older than its source; then for each next hop
 *	that smtp_sasl_password_maps answers a key Postfix looks up (the
 *	server's name, then the next hop as written, brackets and port
 *	included: "smtp.gmail.com:587" is not found for relayhost
 *	"[smtp.gmail.com]:587" and Postfix then sends no AUTH), that
 *	smtp_tls_policy_maps does not lower TLS for it, and that a port 465
 *	relay is reached with smtp_tls_wrappermode.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Application-specific. */
#include "doctor.h"

#define MAX_HOPS 32

/* Next hops mail is relayed to, with where each was found. */
struct hops {
	int n;
	char hop[MAX_HOPS][512];
	char from[MAX_HOPS][128];
	char sender[MAX_HOPS][256];	/* sender_dependent_relayhost_maps key */
};

/* ---------------------------------------------------------------- settings */

/* weak_tls - a TLS level that lets the token go out in clear text */
static int
weak_tls(const char *level)
{
	return *level == 0 || strcasecmp(level, "none") == 0 ||
	    strcasecmp(level, "may") == 0;
}

/* check_security_options - NAME excludes no bearer mechanism */
static void
check_security_options(struct doc *d, const char *name)
{
	static const char *excluding[] = {"noactive", "nodictionary",
	"mutual_auth", "forward_secrecy"};
	const char *v = doc_param(d, name);
	char fix[512];

	for (size_t i = 0; i < sizeof(excluding) / sizeof(excluding[0]); i++)
		if (doc_has_word(v, excluding[i])) {
			snprintf(fix, sizeof(fix), "postconf -c %s -e '%s = "
			    "noplaintext, noanonymous'", doc_q(d->dir), name);
			doc_bad(d, fix, "%s = %s: \"%s\" excludes XOAUTH2 and "
			    "OAUTHBEARER (they send a bearer token)", name, v,
			    excluding[i]);
			return;
		}
	doc_good(d, "%s = %s", name, *v ? v : "(empty)");
}

void
doc_check_settings(struct doc *d)
{
	const char *v, *filter, *tlsopt;
	char fix[512];

	v = doc_param(d, "smtp_sasl_auth_enable");
	if (strcasecmp(v, "yes") == 0)
		doc_good(d, "smtp_sasl_auth_enable = yes");
	else {
		snprintf(fix, sizeof(fix), "postconf -c %s -e smtp_sasl_auth_enable=yes",
		    doc_q(d->dir));
		doc_bad(d, fix, "smtp_sasl_auth_enable is \"%s\": the smtp client "
		    "does not authenticate", v);
	}
	v = doc_param(d, "smtp_sasl_password_maps");
	if (*v)
		doc_good(d, "smtp_sasl_password_maps = %s", v);
	else {
		snprintf(fix, sizeof(fix), "postconf -c %s -e "
		    "smtp_sasl_password_maps=hash:%s/sasl_passwd", doc_q(d->dir),
		    doc_q(d->dir));
		doc_bad(d, fix, "smtp_sasl_password_maps is empty: no token file "
		    "is named for the relay");
	}
	check_security_options(d, "smtp_sasl_security_options");
	check_security_options(d, "smtp_sasl_tls_security_options");

	filter = doc_param(d, "smtp_sasl_mechanism_filter");
	tlsopt = doc_param(d, "smtp_sasl_tls_security_options");
	if (*filter == 0 && !doc_has_word(tlsopt, "noplaintext")) {
		snprintf(fix, sizeof(fix), "postconf -c %s -e "
		    "smtp_sasl_mechanism_filter=xoauth2", doc_q(d->dir));
		doc_bad(d, fix, "smtp_sasl_mechanism_filter is empty and "
		    "smtp_sasl_tls_security_options (%s) lacks noplaintext: libsasl2 "
		    "may choose PLAIN or LOGIN when the server offers them and send "
		    "the token file's path as a password", *tlsopt ? tlsopt :
		    "empty");
	} else if (*filter == 0)
		doc_good(d, "smtp_sasl_mechanism_filter is empty; noplaintext "
		    "keeps PLAIN and LOGIN out");
	else if (strchr(filter, ':') != NULL)
		doc_good(d, "smtp_sasl_mechanism_filter = %s (a table: not "
		    "checked)", filter);
	else if (doc_has_word(filter, "xoauth2") ||
	    doc_has_word(filter, "oauthbearer"))
		doc_good(d, "smtp_sasl_mechanism_filter = %s", filter);
	else {
		snprintf(fix, sizeof(fix), "postconf -c %s -e "
		    "smtp_sasl_mechanism_filter=xoauth2", doc_q(d->dir));
		doc_bad(d, fix, "smtp_sasl_mechanism_filter = %s leaves out XOAUTH2 "
		    "and OAUTHBEARER", filter);
	}
	v = doc_param(d, "smtp_tls_security_level");
	if (weak_tls(v) && strcasecmp(doc_param(d, "smtp_enforce_tls"), "yes")) {
		snprintf(fix, sizeof(fix), "postconf -c %s -e "
		    "smtp_tls_security_level=encrypt", doc_q(d->dir));
		doc_bad(d, fix, "smtp_tls_security_level = %s: the bearer token "
		    "could go out without TLS", *v ? v : "(empty)");
	} else
		doc_good(d, "smtp_tls_security_level = %s: TLS is enforced toward "
		    "the relay", v);
}

/* ------------------------------------------------------------------ maps */

/* check_map_fresh - a file map is postmap'ed and not older than its source; -1 if not */
static int
check_map_fresh(struct doc *d, const char *param, const char *map)
{
	char src[1024], db[1100], fix[2400];
	const char *suffix;
	struct stat s, b;

	if (doc_map_source(map, src, sizeof(src), &suffix) < 0)
		return 0;
	if (stat(src, &s) < 0) {
		snprintf(fix, sizeof(fix), "create %s, or remove %s from %s",
		    doc_q(src), map, param);
		doc_bad(d, fix, "%s: %s is missing", param, src);
		return -1;
	}
	if (*suffix == 0)
		return 0;
	snprintf(db, sizeof(db), "%s%s", src, suffix);
	snprintf(fix, sizeof(fix), "postmap -c %s %s", doc_q(d->dir), doc_q(map));
	if (stat(db, &b) < 0)
		doc_bad(d, fix, "%s: %s was never postmap'ed (%s is missing): "
		    "Postfix cannot read the map", param, src, db);
	else if (b.st_mtime < s.st_mtime)
		doc_bad(d, fix, "%s: %s is older than %s: Postfix still uses the "
		    "entries from before the last edit", param, db, src);
	else {
		doc_good(d, "%s: %s is postmap'ed and up to date", param, src);
		return 0;
	}
	return -1;
}

/* add_hop - remember a next hop (and the sender it is for) once */
static void
add_hop(struct hops *h, const char *hop, const char *from, const char *sender)
{
	if (*hop == 0 || h->n >= MAX_HOPS)
		return;
	for (int i = 0; i < h->n; i++)
		if (strcmp(h->hop[i], hop) == 0 && strcmp(h->sender[i], sender) == 0)
			return;
	snprintf(h->hop[h->n], sizeof(h->hop[0]), "%s", hop);
	snprintf(h->from[h->n], sizeof(h->from[0]), "%s", from);
	snprintf(h->sender[h->n], sizeof(h->sender[0]), "%s", sender);
	h->n++;
}

/* hops_from_maps - next hops in the values of param's file maps */
static void
hops_from_maps(struct doc *d, struct hops *h, const char *param,
    int transport)
{
	char maps[4096], m[1024], src[1024], line[4096], hop[512];
	const char *mp, *suffix;

	snprintf(maps, sizeof(maps), "%s", doc_param(d, param));
	for (mp = maps; doc_next_word(&mp, m, sizeof(m));) {
		FILE *f;

		check_map_fresh(d, param, m);
		if (doc_map_source(m, src, sizeof(src), &suffix) < 0 ||
		    (f = fopen(src, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			char *k, *v, *c;
			const char *w = hop;

			if (doc_map_line(line, &k, &v) < 0)
				continue;
			/* transport(5): "transport:nexthop" */
			if (transport) {
				if ((c = strchr(v, ':')) == NULL)
					continue;
				v = c + 1;
			}
			if (doc_next_word((const char **)&v, hop, sizeof(hop)))
				add_hop(h, w, param, transport ? "" : k);
		}
		fclose(f);
	}
}

/* close_key - a key of a password map source naming host differently */
static int
close_key(struct doc *d, const char *host, char *key, size_t ksz, char *map,
    size_t msz)
{
	char maps[4096], m[1024], src[1024], line[4096], kh[512], kp[64];
	const char *mp, *suffix;
	int br, found = 0;

	snprintf(maps, sizeof(maps), "%s", doc_param(d, "smtp_sasl_password_maps"));
	for (mp = maps; !found && doc_next_word(&mp, m, sizeof(m));) {
		FILE *f;

		if (doc_map_source(m, src, sizeof(src), &suffix) < 0 ||
		    (f = fopen(src, "r")) == NULL)
			continue;
		while (!found && fgets(line, sizeof(line), f) != NULL) {
			char *k, *v;

			if (doc_map_line(line, &k, &v) == 0 &&
			    doc_nexthop(k, kh, sizeof(kh), kp, sizeof(kp), &br) == 0 &&
			    strcasecmp(kh, host) == 0) {
				snprintf(key, ksz, "%s", k);
				snprintf(map, msz, "%s", m);
				found = 1;
			}
		}
		fclose(f);
	}
	return found;
}

/* sed_quote - s with the characters sed's basic regex and replacement treat specially escaped */
static void
sed_quote(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s && o + 3 < size; s++) {
		if (strchr("[]\\.*^$/&", *s))
			buf[o++] = '\\';
		buf[o++] = *s;
	}
	buf[o] = 0;
}

/* lookup - the password maps' answer for key; 0 found, 1 not, -1 error */
static int
lookup(struct doc *d, const char *key, char *val, size_t vsz)
{
	char maps[4096], m[1024];
	const char *mp;
	int r, err = 0;

	snprintf(maps, sizeof(maps), "%s", doc_param(d, "smtp_sasl_password_maps"));
	for (mp = maps; doc_next_word(&mp, m, sizeof(m));) {
		if ((r = doc_postmap_q(d, key, m, val, vsz)) == 0)
			return 0;
		err |= r < 0;
	}
	return err ? -1 : 1;
}

/* check_hop_key - smtp_sasl_password_maps answers a key Postfix uses for hop */
static void
check_hop_key(struct doc *d, const char *hop, const char *from,
    const char *host, const char *sender)
{
	char val[1024], key[512], map[1024], src[1024], qk[1100], qh[1100];
	char fix[4096];
	const char *suffix;
	int r1, r2;

	/* smtp_sender_dependent_authentication: the sender is looked up first */
	if (*sender && strcasecmp(doc_param(d,
	    "smtp_sender_dependent_authentication"), "yes") == 0 &&
	    lookup(d, sender, val, sizeof(val)) == 0) {
		doc_good(d, "relay %s (%s): smtp_sasl_password_maps has key %s "
		    "(the sender)", hop, from, sender);
		return;
	}
	if ((r1 = lookup(d, host, val, sizeof(val))) == 0 ||
	    (r2 = lookup(d, hop, val, sizeof(val))) == 0) {
		doc_good(d, "relay %s (%s): smtp_sasl_password_maps has key %s",
		    hop, from, r1 == 0 ? host : hop);
		return;
	}
	if (r1 < 0 || r2 < 0) {
		doc_bad(d, NULL, "relay %s (%s): smtp_sasl_password_maps cannot "
		    "be read (see the lines above): Postfix defers the mail", hop,
		    from);
		return;
	}
	if (close_key(d, host, key, sizeof(key), map, sizeof(map)) &&
	    doc_map_source(map, src, sizeof(src), &suffix) == 0) {
		sed_quote(key, qk, sizeof(qk));
		sed_quote(hop, qh, sizeof(qh));
		snprintf(val, sizeof(val), "s/^%s\\([[:space:]]\\)/%s\\1/", qk, qh);
		snprintf(fix, sizeof(fix), "sed -i %s %s%s%s", doc_q(val),
		    doc_q(src), *suffix ? " && postmap -c " : "", *suffix ?
		    doc_q(d->dir) : "");
		if (*suffix) {
			strncat(fix, " ", sizeof(fix) - strlen(fix) - 1);
			strncat(fix, doc_q(map), sizeof(fix) - strlen(fix) - 1);
		}
		doc_bad(d, fix, "relay %s (%s): smtp_sasl_password_maps has key "
		    "%s, but Postfix looks up %s and then %s: it sends no AUTH and "
		    "the relay refuses the mail; write the key as %s", hop, from,
		    key, host, hop, hop);
		return;
	}
	snprintf(map, sizeof(map), "%s", doc_param(d, "smtp_sasl_password_maps"));
	snprintf(fix, sizeof(fix), "add the line \"%s USER:/path/to/token.json\" "
	    "to the source of %s, then postmap it", hop, *map ? map :
	    "smtp_sasl_password_maps");
	doc_bad(d, fix, "relay %s (%s): smtp_sasl_password_maps has no entry "
	    "for %s or %s: Postfix sends no AUTH and the relay refuses the mail",
	    hop, from, hop, host);
}

/* check_hop_tls - smtp_tls_policy_maps does not lower TLS for hop */
static void
check_hop_tls(struct doc *d, const char *hop, const char *port)
{
	char maps[4096], m[1024], val[1024], lvl[64], src[1024], q1[1100];
	char fix[4096], sed[2400];
	const char *mp, *vp, *suffix;

	snprintf(maps, sizeof(maps), "%s", doc_param(d, "smtp_tls_policy_maps"));
	for (mp = maps; doc_next_word(&mp, m, sizeof(m));) {
		if (doc_postmap_q(d, hop, m, val, sizeof(val)) != 0)
			continue;
		vp = val;
		if (!doc_next_word(&vp, lvl, sizeof(lvl)) || !weak_tls(lvl))
			break;
		if (doc_map_source(m, src, sizeof(src), &suffix) == 0) {
			sed_quote(hop, q1, sizeof(q1));
			snprintf(sed, sizeof(sed), "s/^%s\\([[:space:]]\\{1,\\}\\)%s/%s\\1encrypt/",
			    q1, lvl, q1);
			snprintf(fix, sizeof(fix), "sed -i %s %s%s%s%s%s", doc_q(sed),
			    doc_q(src), *suffix ? " && postmap -c " : "", *suffix ?
			    doc_q(d->dir) : "", *suffix ? " " : "", *suffix ?
			    doc_q(m) : "");
		} else
			snprintf(fix, sizeof(fix), "set the TLS level of %s in %s "
			    "to encrypt", hop, m);
		doc_bad(d, fix, "relay %s: smtp_tls_policy_maps (%s) sets TLS "
		    "level \"%s\": the bearer token could go out without TLS",
		    hop, m, lvl);
		return;
	}
	if ((strcmp(port, "465") == 0 || strcasecmp(port, "smtps") == 0 ||
	    strcasecmp(port, "submissions") == 0) &&
	    strcasecmp(doc_param(d, "smtp_tls_wrappermode"), "yes") != 0) {
		snprintf(fix, sizeof(fix), "postconf -c %s -e "
		    "smtp_tls_wrappermode=yes smtp_tls_security_level=encrypt",
		    doc_q(d->dir));
		doc_bad(d, fix, "relay %s: port %s speaks TLS from the first byte, "
		    "but smtp_tls_wrappermode is off: Postfix waits for a greeting "
		    "that never comes", hop, port);
	}
}

void
doc_check_relays(struct doc *d)
{
	struct hops h = {0};
	char maps[4096], m[1024], w[512], host[512], port[64];
	const char *p, *v;
	int br, stale = 0;

	snprintf(maps, sizeof(maps), "%s", doc_param(d, "smtp_sasl_password_maps"));
	for (p = maps; doc_next_word(&p, m, sizeof(m));)
		stale |= check_map_fresh(d, "smtp_sasl_password_maps", m) < 0;
	for (v = doc_param(d, "relayhost"); doc_next_word(&v, w, sizeof(w));)
		add_hop(&h, w, "relayhost", "");
	v = doc_param(d, "default_transport");
	if ((p = strchr(v, ':')) != NULL && p[1])
		add_hop(&h, p + 1, "default_transport", "");
	hops_from_maps(d, &h, "transport_maps", 1);
	hops_from_maps(d, &h, "sender_dependent_relayhost_maps", 0);
	snprintf(maps, sizeof(maps), "%s", doc_param(d, "smtp_tls_policy_maps"));
	for (p = maps; doc_next_word(&p, m, sizeof(m));)
		check_map_fresh(d, "smtp_tls_policy_maps", m);
	if (h.n == 0) {
		doc_good(d, "no relayhost or transport next hop: mail goes to each "
		    "domain's MX, looked up by that server's name in "
		    "smtp_sasl_password_maps");
		return;
	}
	for (int i = 0; i < h.n; i++) {
		if (doc_nexthop(h.hop[i], host, sizeof(host), port, sizeof(port),
		    &br) < 0) {
			doc_bad(d, NULL, "relay \"%s\" (%s) is not a next hop Postfix "
			    "understands: write [host]:port", h.hop[i], h.from[i]);
			continue;
		}
		/* A map that is not postmap'ed answers nothing: fix that first. */
		if (!stale)
			check_hop_key(d, h.hop[i], h.from[i], host, h.sender[i]);
		check_hop_tls(d, h.hop[i], port);
	}
}
