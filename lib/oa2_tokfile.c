/* SPDX-License-Identifier: MIT */
/*++
 * NAME
 *	oa2_tokfile 3
 * SUMMARY
 *	token file: read, validate, lock, write back atomically
 * SYNOPSIS
 *	#include "oa2_tokfile.h"
 *
 *	enum oa2_status oa2_token_load(tok, path, err)
 *	enum oa2_status oa2_token_load_fd(tok, fd, path, err)
 *	enum oa2_status oa2_token_load_stat(tok, path, sb, err)
 *	enum oa2_status oa2_token_load_fd_stat(tok, fd, path, sb, err)
 *	enum oa2_status oa2_token_parse(tok, path, data, len, err)
 *	enum oa2_status oa2_token_lock(path, fdp, err)
 *	void	oa2_token_unlock(fdp)
 *	enum oa2_status oa2_token_update(tok, access_token, expiry,
 *					refresh_token, err)
 *	enum oa2_status oa2_token_set_string(tok, name, value, err)
 *	enum oa2_status oa2_token_new(tok, err)
 *	enum oa2_status oa2_token_save(tok, path, err)
 *	void	oa2_token_free(tok)
 *	void	(*oa2_token_save_hook)(const char *step)
 * DESCRIPTION
 *	The SASL password the plugin receives is the path of a JSON token
 *	file.  Many Postfix smtp processes, each running as the postfix user
 *	and often inside a chroot, may read and refresh one file at the same
 *	time.  This module is the only code that touches such a file.
 *
 *	oa2_token_parse() checks a document held in memory; oa2_token_load()
 *	and oa2_token_load_fd() first check the file itself (regular file,
 *	not a symbolic link, mode 0600 or stricter, not empty, at most
 *	OA2_TOKFILE_MAX bytes).  Known members must have their documented
 *	type; a JSON null in an optional member counts as absent.  Every
 *	other member is kept, in order, and written back unchanged.  The
 *	views in struct oa2_token point into the document and are derived
 *	again after every change.  A load is open, fstat, one pread (the
 *	buffer is sized from fstat; a file that grew meanwhile is read on up
 *	to the cap) and close.  oa2_token_load_stat() and
 *	oa2_token_load_fd_stat() also hand back that fstat: the identity of
 *	the file the document came from, which the plugin's token cache keys
 *	on (oa2_refresh(3)).
 *
 *	oa2_token_lock() returns a descriptor that holds an exclusive
 *	open-file-description lock on the inode the path names at the moment
 *	the lock is granted (it retries when a writer renamed a new file
 *	into place while it waited).  Where the kernel has no OFD locks it
 *	falls back to flock(2).  oa2_token_unlock() releases it.
 *
 *	oa2_token_update() and oa2_token_set_string() change the document all
 *	at once or not at all: the new values are built first, applied to a
 *	shallow copy, and the copy replaces the document only when every step
 *	succeeded.  A NULL or empty new refresh token keeps the old one.
 *
 *	oa2_token_save() never writes in place.  It serializes the document
 *	(indented by two; compact when only that fits in OA2_TOKFILE_MAX, so
 *	that a file that loaded can always be saved after a refresh), checks
 *	that the text parses back to the same document, writes it to
 *	"<path>.tmp.XXXXXX" (mkostemp, fchmod 0600, as root fchown to the
 *	owner and group of the file it replaces), fsyncs it, renames it over
 *	the path and fsyncs the directory.  On failure before the rename the
 *	temporary file is removed and the old file is untouched.  A process
 *	killed between mkostemp and rename leaves its temporary file behind;
 *	the next successful save removes such leftovers once they are older
 *	than a minute and no live writer holds their lock.  A failure to
 *	fsync the directory after the rename is OA2_ERR_TEMP, and its message
 *	says that the new file is in place.
 * DIAGNOSTICS
 *	Each failure fills *err with one line that starts with the file (or,
 *	for a failure to create or sync a file in it, the directory), names
 *	the field at fault and says what to do.  Status OA2_ERR_INPUT with
 *	code "token_file" for anything the administrator must fix,
 *	OA2_ERR_NOMEM when memory ran out (also when jansson hid an
 *	allocation failure: its lexer drops bytes rather than fail, so any
 *	failed allocation during a parse or a dump fails the operation),
 *	OA2_ERR_TEMP for a lock that could not be settled, OA2_ERR_INTERNAL
 *	for a misuse by the caller.
 * SECURITY
 *	No message ever quotes a value from the file: jansson's error text
 *	is cut before its "near '...'" part, which can hold a token.  Buffers
 *	that held the file or its serialization are wiped before they are
 *	freed; documents are released with oa2_json_wipe_decref(), which
 *	zeroes their strings first (oa2_json(3): what jansson still leaves).
 *	A token file is never created with any
 *	group or other permission.
 * SEE ALSO
 *	oa2_tokfile.h, the contract; sasl-oauth2-token(5), the file format.
 * LICENSE
 *	MIT
 *--*/
#include "config.h"

/* System library. */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Utility library. */
#include <jansson.h>

/* Application-specific. */
#include "oa2_error.h"
#include "oa2_json.h"
#include "oa2_mem.h"
#include "oa2_tokfile.h"

#define TF_CODE		"token_file"
#define TF_REAUTH	"re-run sasl-oauth2 authorize"
#define TF_LOCK_TRIES	100		/* path replaced while we waited */
#define TF_STALE_AGE	10		/* seconds before a temp file is stale */
#define TF_TMP_SUFFIX	".tmp."
#define TF_TMP_RANDOM	6		/* the XXXXXX of mkostemp */

void    (*oa2_token_save_hook) (const char *step) = NULL;

/* Known members and how each must look. */
enum field_kind {
	KIND_STRING,			/* string, may be empty */
	KIND_REFRESH,			/* required non-empty string */
	KIND_EXPIRY,			/* digit string or integer >= 0 */
	KIND_WINDOW,			/* integer >= 0 or digit string */
	KIND_CLIENT_AUTH		/* "", "post" or "basic" */
};

struct field {
	const char *name;
	enum field_kind kind;
	size_t  view;			/* offset of the view in struct oa2_token */
};

#define VIEW(m)	offsetof(struct oa2_token, m)

static const struct field fields[] = {
	{"refresh_token", KIND_REFRESH, VIEW(refresh_token)},
	{"access_token", KIND_STRING, VIEW(access_token)},
	{"user", KIND_STRING, VIEW(user)},
	{"client_id", KIND_STRING, VIEW(client_id)},
	{"client_secret", KIND_STRING, VIEW(client_secret)},
	{"token_endpoint", KIND_STRING, VIEW(token_endpoint)},
	{"proxy", KIND_STRING, VIEW(proxy)},
	{"ca_bundle_file", KIND_STRING, VIEW(ca_bundle_file)},
	{"ca_certs_dir", KIND_STRING, VIEW(ca_certs_dir)},
	{"provider", KIND_STRING, VIEW(provider)},
	{"tenant", KIND_STRING, VIEW(tenant)},
	{"scope", KIND_STRING, VIEW(scope)},
	{"client_auth", KIND_CLIENT_AUTH, VIEW(client_auth)},
	{"expiry", KIND_EXPIRY, 0},
	{"refresh_window", KIND_WINDOW, 0},
};

#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

/* find_field - the table entry for a member name, or NULL */
static const struct field *
find_field(const char *name)
{
	size_t  i;

	for (i = 0; i < NFIELDS; i++)
		if (strcmp(fields[i].name, name) == 0)
			return (&fields[i]);
	return (NULL);
}

/* type_name - JSON type of a value, for messages (never the value) */
static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return ("an object");
	case JSON_ARRAY:
		return ("an array");
	case JSON_STRING:
		return ("a string");
	case JSON_INTEGER:
		return ("an integer");
	case JSON_REAL:
		return ("a floating-point number");
	case JSON_TRUE:
	case JSON_FALSE:
		return ("a boolean");
	case JSON_NULL:
		return ("null");
	}
	return ("unknown");
}

/* parse_digits - a non-empty string of ASCII digits; -1 if not one */
static int
parse_digits(const char *s, long long *out)
{
	long long v = 0;

	if (s == NULL || *s == 0)
		return (-1);
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		if (v > (LLONG_MAX - (*s - '0')) / 10)
			return (-1);
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return (0);
}

/* number_value - expiry/refresh_window as a number; -1 if malformed */
static int
number_value(const json_t *v, long long *out)
{
	if (json_is_string(v))
		return (parse_digits(json_string_value(v), out));
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (long long) json_integer_value(v);
		return (0);
	}
	return (-1);
}

/* utf8_valid - true if s is well-formed UTF-8 as jansson accepts it */
static int
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	unsigned long cp;
	int     n, i;

	while (*p) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 1, cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2, cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3, cp = *p & 0x07;
		} else
			return (0);
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return (0);
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
		    || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (0);
		p += n + 1;
	}
	return (1);
}

/* check_member - one known member against its kind; who prefixes the message */
static enum oa2_status
check_member(const struct field *f, const json_t *v, const char *who,
	             struct oa2_error *err)
{
	const char *s;
	long long n;

	if (f->kind == KIND_REFRESH) {
		if (v == NULL)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			       "%s: field \"%s\" is missing: " TF_REAUTH,
					      who, f->name));
		if (!json_is_string(v))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			     "%s: field \"%s\" must be a string, not %s: "
					      TF_REAUTH, who, f->name,
					      type_name(v)));
		if (*json_string_value(v) == 0)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			       "%s: field \"%s\" is empty: " TF_REAUTH,
					      who, f->name));
		return (OA2_OK);
	}
	/* Optional members: absent or null means "not set". */
	if (v == NULL || json_is_null(v))
		return (OA2_OK);
	switch (f->kind) {
	case KIND_STRING:
		if (!json_is_string(v))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: field \"%s\" must be a string, not %s",
					 who, f->name, type_name(v)));
		break;
	case KIND_CLIENT_AUTH:
		s = json_string_value(v);
		if (s == NULL || (*s && strcmp(s, "post") != 0
				  && strcmp(s, "basic") != 0))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			  "%s: field \"%s\" must be \"post\" or \"basic\"",
					      who, f->name));
		break;
	case KIND_EXPIRY:
		if (number_value(v, &n) < 0)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			"%s: field \"%s\" must be a string of digits (epoch "
					      "seconds)", who, f->name));
		break;
	case KIND_WINDOW:
		if (number_value(v, &n) < 0)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			  "%s: field \"%s\" must be a number of seconds (an "
					"integer or a string of digits >= 0)",
					      who, f->name));
		break;
	case KIND_REFRESH:
		break;
	}
	return (OA2_OK);
}

/* check_document - every known member of root; who prefixes the message */
static enum oa2_status
check_document(const json_t *root, const char *who, struct oa2_error *err)
{
	enum oa2_status st;
	size_t  i;

	if (!json_is_object(root))
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: is not a JSON object: a token file "
				      "holds one {...} object", who));
	for (i = 0; i < NFIELDS; i++)
		if ((st = check_member(&fields[i],
			   json_object_get(root, fields[i].name), who, err))
		    != OA2_OK)
			return (st);
	return (OA2_OK);
}

/* sync_views - derive every view of tok from tok->root (checked already) */
static void
sync_views(struct oa2_token *tok)
{
	const json_t *v;
	size_t  i;
	long long n;

	tok->expiry = 0;
	tok->refresh_window = -1;
	for (i = 0; i < NFIELDS; i++) {
		v = json_object_get(tok->root, fields[i].name);
		switch (fields[i].kind) {
		case KIND_EXPIRY:
			if (v != NULL && number_value(v, &n) == 0)
				tok->expiry = n;
			break;
		case KIND_WINDOW:
			if (v != NULL && number_value(v, &n) == 0)
				tok->refresh_window = n;
			break;
		default:
			*(const char **) ((char *) tok + fields[i].view) =
				json_string_value(v);
			break;
		}
	}
}

/* token_init - an empty, safely freeable token */
static void
token_init(struct oa2_token *tok)
{
	memset(tok, 0, sizeof(*tok));
	tok->root = NULL;
	tok->refresh_window = -1;
}

/* normalize_expiry - a numeric expiry becomes the string we always write */
static enum oa2_status
normalize_expiry(json_t *root, const char *path, struct oa2_error *err)
{
	json_t *v = json_object_get(root, "expiry");
	char    num[32];

	if (!json_is_integer(v))
		return (OA2_OK);
	snprintf(num, sizeof(num), "%lld", (long long) json_integer_value(v));
	/* Replacing a member allocates nothing but the new string. */
	if (json_object_set_new(root, "expiry", json_string(num)) < 0)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
				  "%s: out of memory while parsing it", path));
	return (OA2_OK);
}

/* json_reason - jansson's error text without anything quoted from the input */
static void
json_reason(const json_error_t *je, char *out, size_t outsz)
{
	static const char dup[] = "duplicate object key";
	const struct field *f;
	const char *near;
	char    key[32];
	size_t  n;

	near = strstr(je->text, " near ");
	n = near ? (size_t) (near - je->text) : strlen(je->text);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, je->text, n);
	out[n] = 0;

	/*
	 * What follows "near" is input, and may be a token.  Only for a
	 * duplicate key that is one of our own field names is it worth (and
	 * safe) to repeat: name that field.
	 */
	if (near == NULL || strcmp(out, dup) != 0
	    || sscanf(near, " near '\"%31[a-z_]\"'", key) != 1)
		return;
	n = strlen(key);
	if (strncmp(near + 8 + n, "\"'", 3) == 0 && (f = find_field(key)) != NULL)
		snprintf(out, outsz, "%s \"%s\"", dup, f->name);
}

/* oa2_token_parse - check a document in memory and fill tok */
enum oa2_status
oa2_token_parse(struct oa2_token *tok, const char *path, const char *data,
		        size_t len, struct oa2_error *err)
{
	json_error_t je;
	json_t *root;
	char    why[JSON_ERROR_TEXT_LENGTH];
	enum oa2_status st;
	size_t  i;
	int     nomem;

	token_init(tok);

	for (i = 0; i < len; i++)
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\n'
		    && data[i] != '\r')
			break;
	if (i == len)
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: is empty", path));
	if (len > OA2_TOKFILE_MAX)
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: is larger than %d bytes", path,
				      OA2_TOKFILE_MAX));

	memset(&je, 0, sizeof(je));
	if ((root = oa2_json_loadb(data, len, JSON_REJECT_DUPLICATES, &je,
				   &nomem)) == NULL) {
		if (nomem)
			return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
				  "%s: out of memory while parsing it", path));
		json_reason(&je, why, sizeof(why));
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: not valid JSON (line %d, column %d: %s)",
				      path, je.line, je.column, why));
	}
	if ((st = check_document(root, path, err)) != OA2_OK
	    || (st = normalize_expiry(root, path, err)) != OA2_OK) {
		oa2_json_wipe_decref(root);
		return (st);
	}
	tok->root = root;
	sync_views(tok);
	return (OA2_OK);
}

/* open_error - the one-line message for a failed open of the token file */
static enum oa2_status
open_error(const char *path, int errnum, int writing, struct oa2_error *err)
{
	struct stat st;
	const char *how = writing ? "cannot open for writing" : "cannot open";

	switch (errnum) {
	case ELOOP:
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				   "%s: is a symbolic link: give the real path",
					      path));
		break;
	case EISDIR:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: is a directory, not a token file", path));
	case ENXIO:			/* a socket, or a device without one */
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			   "%s: is not a regular file (a FIFO, socket or "
				      "device): give the path of the token file",
				      path));
	case EACCES:
	case EPERM:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				"%s: %s: %s (running as uid %ld): make it %s",
				      path, how, strerror(errnum),
				      (long) geteuid(), writing ?
				      "readable and writable by that user "
				      "(needed to lock it)" :
				      "readable by that user"));
	case ENOENT:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			 "%s: %s: %s: check the path (inside a chroot, such "
			    "as Postfix's, it is relative to the chroot)",
				      path, how, strerror(errnum)));
	case EROFS:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: %s: %s: the token file must be on "
				      "a writable file system (the plugin "
				      "refreshes it)", path, how,
				      strerror(errnum)));
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case EINTR:
		return (oa2_error_set(err, OA2_ERR_TEMP, TF_CODE,
				      "%s: %s: %s: try again later", path, how,
				      strerror(errnum)));
	}
	return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE, "%s: %s: %s",
			      path, how, strerror(errnum)));
}

/* check_type - fstat the open file; it must be a regular file */
static enum oa2_status
check_type(int fd, const char *path, struct stat *st, struct oa2_error *err)
{
	if (fstat(fd, st) < 0)
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: cannot stat: %s", path,
				      strerror(errno)));
	if (S_ISDIR(st->st_mode))
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: is a directory, not a token file", path));
	if (!S_ISREG(st->st_mode))
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			   "%s: is not a regular file (a FIFO, socket or "
				      "device): give the path of the token file",
				      path));
	return (OA2_OK);
}

/* check_fd - the open file must be a regular file with mode 0600 or stricter */
static enum oa2_status
check_fd(int fd, const char *path, struct stat *st, struct oa2_error *err)
{
	enum oa2_status rc;
	unsigned mode;

	if ((rc = check_type(fd, path, st, err)) != OA2_OK)
		return (rc);
	mode = (unsigned) (st->st_mode & 07777);
	if (mode & 077)
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			     "%s: is %s by group or others (mode %04o): run "
				      "chmod 600 %s", path,
				      (mode & 044) ? "readable" :
				      "writable or executable", mode, path));
	return (OA2_OK);
}

/*
 * read_fd - read the whole file from offset 0; *bufp must be wiped and freed.
 *
 * The buffer is sized from fstat (size_hint) so that the usual file is read
 * with one pread into one small block: a read shorter than asked for is the
 * end of a regular file.  A file that grew since fstat is read on, up to the
 * cap.
 */
static enum oa2_status
read_fd(int fd, const char *path, off_t size_hint, char **bufp,
	        size_t *lenp, struct oa2_error *err)
{
	char   *buf, *nbuf;
	size_t  len = 0, cap, want;
	ssize_t n;

	*bufp = NULL;
	*lenp = 0;
	cap = size_hint >= 0 && size_hint < OA2_TOKFILE_MAX ?
		(size_t) size_hint + 1 : OA2_TOKFILE_MAX + 1;
	if ((buf = oa2_malloc(cap)) == NULL)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
				    "%s: out of memory reading it", path));
	for (;;) {
		want = cap - len;
		n = pread(fd, buf + len, want, (off_t) len);
		if (n < 0) {
			int     errnum = errno;

			if (errnum == EINTR)
				continue;
			oa2_wipe(buf, len);
			oa2_free(buf);
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
					      "%s: cannot read: %s", path,
					      strerror(errnum)));
		}
		len += (size_t) n;
		if ((size_t) n < want)
			break;			/* end of file */
		if (cap == OA2_TOKFILE_MAX + 1)
			break;			/* too large: refused below */
		/* It grew since fstat: read on into a block at the cap. */
		if ((nbuf = oa2_malloc(OA2_TOKFILE_MAX + 1)) == NULL) {
			oa2_wipe(buf, len);
			oa2_free(buf);
			return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
					    "%s: out of memory reading it", path));
		}
		memcpy(nbuf, buf, len);
		oa2_wipe(buf, len);
		oa2_free(buf);
		buf = nbuf;
		cap = OA2_TOKFILE_MAX + 1;
	}
	if (len > OA2_TOKFILE_MAX) {
		oa2_wipe(buf, len);
		oa2_free(buf);
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "%s: is larger than %d bytes", path,
				      OA2_TOKFILE_MAX));
	}
	*bufp = buf;
	*lenp = len;
	return (OA2_OK);
}

/* read_parse - read and parse a checked file whose fstat is *st */
static enum oa2_status
read_parse(struct oa2_token *tok, int fd, const char *path,
	           const struct stat *st, struct oa2_error *err)
{
	enum oa2_status rc;
	char   *buf;
	size_t  len;

	if ((rc = read_fd(fd, path, st->st_size, &buf, &len, err)) != OA2_OK)
		return (rc);
	rc = oa2_token_parse(tok, path, buf, len, err);
	oa2_wipe(buf, len);
	oa2_free(buf);
	return (rc);
}

/* load_open_fd - check, read and parse an open token file; *st its fstat */
static enum oa2_status
load_open_fd(struct oa2_token *tok, int fd, const char *path,
	             struct stat *st, struct oa2_error *err)
{
	enum oa2_status rc;

	token_init(tok);
	if ((rc = check_fd(fd, path, st, err)) != OA2_OK)
		return (rc);
	return (read_parse(tok, fd, path, st, err));
}

/* clear_nonblock - drop O_NONBLOCK once we know the file is a regular file */
static void
clear_nonblock(int fd)
{
	int     fl;

	if ((fl = fcntl(fd, F_GETFL)) >= 0 && (fl & O_NONBLOCK))
		(void) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/*
 * oa2_token_load_stat - open (no symlinks, no FIFO hang), check and parse;
 * *sb receives the fstat of the file that was read.  Four system calls:
 * open, fstat, pread, close (O_NONBLOCK means nothing for the regular file
 * it must be, so it is not cleared).
 */
enum oa2_status
oa2_token_load_stat(struct oa2_token *tok, const char *path, struct stat *sb,
		            struct oa2_error *err)
{
	enum oa2_status st;
	int     fd;

	token_init(tok);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return (open_error(path, errno, 0, err));
	if ((st = check_fd(fd, path, sb, err)) == OA2_OK)
		st = read_parse(tok, fd, path, sb, err);
	(void) close(fd);
	return (st);
}

/* oa2_token_load - open (no symlinks, no FIFO hang), check and parse */
enum oa2_status
oa2_token_load(struct oa2_token *tok, const char *path, struct oa2_error *err)
{
	struct stat sb;

	return (oa2_token_load_stat(tok, path, &sb, err));
}

/* oa2_token_load_fd_stat - re-read a locked file from offset 0; *sb its fstat */
enum oa2_status
oa2_token_load_fd_stat(struct oa2_token *tok, int fd, const char *path,
		               struct stat *sb, struct oa2_error *err)
{
	return (load_open_fd(tok, fd, path, sb, err));
}

/* oa2_token_load_fd - re-read a locked file from offset 0 */
enum oa2_status
oa2_token_load_fd(struct oa2_token *tok, int fd, const char *path,
		          struct oa2_error *err)
{
	struct stat sb;

	return (load_open_fd(tok, fd, path, &sb, err));
}

/* OFD locks exist since Linux 3.15; remember when the kernel said EINVAL. */
static int no_ofd_locks;

/* lock_fd - exclusive lock on the whole file, waiting; 0 or -1 with errno */
static int
lock_fd(int fd)
{
#ifdef F_OFD_SETLKW
	struct flock fl;

	while (!no_ofd_locks) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = 0;
		fl.l_len = 0;
		fl.l_pid = 0;
		if (fcntl(fd, F_OFD_SETLKW, &fl) == 0)
			return (0);
		if (errno == EINTR)
			continue;
		if (errno != EINVAL)
			return (-1);
		no_ofd_locks = 1;
	}
#endif
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return (-1);
	return (0);
}

/* unlock_fd - release the lock even if a forked child shares the descriptor */
static void
unlock_fd(int fd)
{
#ifdef F_OFD_SETLK
	struct flock fl;

	if (!no_ofd_locks) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		(void) fcntl(fd, F_OFD_SETLK, &fl);
		return;
	}
#endif
	(void) flock(fd, LOCK_UN);
}

/* oa2_token_lock - lock the inode that path names once the lock is ours */
enum oa2_status
oa2_token_lock(const char *path, int *fdp, struct oa2_error *err)
{
	struct stat held, now;
	enum oa2_status st;
	int     fd, tries;

	*fdp = -1;
	for (tries = 0; tries < TF_LOCK_TRIES; tries++) {
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return (open_error(path, errno, 1, err));
		/* The mode is load_fd's to judge; the type is ours. */
		if ((st = check_type(fd, path, &held, err)) != OA2_OK) {
			(void) close(fd);
			return (st);
		}
		clear_nonblock(fd);
		if (lock_fd(fd) < 0) {
			st = oa2_error_set(err, OA2_ERR_TEMP, TF_CODE,
					   "%s: cannot lock: %s", path,
					   strerror(errno));
			(void) close(fd);
			return (st);
		}

		/*
		 * Whoever held the lock before us may have renamed a new file
		 * over the path: then we locked a dead inode, and must start
		 * over with the file that is there now.
		 */
		if (fstat(fd, &held) == 0 && lstat(path, &now) == 0
		    && held.st_dev == now.st_dev && held.st_ino == now.st_ino) {
			*fdp = fd;
			return (OA2_OK);
		}
		unlock_fd(fd);
		(void) close(fd);
	}
	return (oa2_error_set(err, OA2_ERR_TEMP, TF_CODE,
			      "%s: was replaced %d times while waiting for its "
			      "lock: try again later", path, TF_LOCK_TRIES));
}

/* oa2_token_unlock - release the lock and close; *fdp becomes -1 */
void
oa2_token_unlock(int *fdp)
{
	if (fdp == NULL || *fdp < 0)
		return;
	unlock_fd(*fdp);
	(void) close(*fdp);
	*fdp = -1;
}

/* shallow_copy - same members in the same order; NULL on failure */
static json_t *
shallow_copy(json_t *root)
{
	const char *key;
	json_t *copy, *v;

	/* Not json_copy(): it ignores failures to add a member. */
	if ((copy = json_object()) == NULL)
		return (NULL);
	json_object_foreach(root, key, v) {
		if (json_object_set_nocheck(copy, key, v) < 0) {
			oa2_json_wipe_decref(copy);
			return (NULL);
		}
	}
	if (json_object_size(copy) != json_object_size(root)) {
		oa2_json_wipe_decref(copy);
		return (NULL);
	}
	return (copy);
}

/* oa2_token_update - new access token and expiry, maybe a new refresh token */
enum oa2_status
oa2_token_update(struct oa2_token *tok, const char *access_token,
		         long long expiry, const char *refresh_token,
		         struct oa2_error *err)
{
	json_t *at = NULL, *ex = NULL, *rt = NULL, *copy = NULL;
	char    num[32];
	int     ok;

	if (tok == NULL || tok->root == NULL || access_token == NULL
	    || expiry < 0)
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
				   "oa2_token_update: bad arguments (a bug)"));
	if (!utf8_valid(access_token)
	    || (refresh_token != NULL && !utf8_valid(refresh_token)))
		return (oa2_error_set(err, OA2_ERR_PROTO, TF_CODE,
				  "the new token is not valid UTF-8: the token "
				      "file was not changed"));
	snprintf(num, sizeof(num), "%lld", expiry);

	/* Build everything first; the document changes only at the end. */
	at = json_string(access_token);
	ex = json_string(num);
	if (refresh_token != NULL && *refresh_token != 0)
		rt = json_string(refresh_token);
	ok = at != NULL && ex != NULL
		&& (rt != NULL || refresh_token == NULL || *refresh_token == 0);
	if (ok)
		copy = shallow_copy(tok->root);
	if (!ok || copy == NULL) {
		oa2_json_wipe_decref(at);
		oa2_json_wipe_decref(ex);
		oa2_json_wipe_decref(rt);
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
		    "out of memory updating the token: nothing was changed"));
	}
	/* json_object_set_new() consumes the value even when it fails. */
	ok = json_object_set_new(copy, "access_token", at) == 0;
	ok = (json_object_set_new(copy, "expiry", ex) == 0) && ok;
	if (rt != NULL)
		ok = (json_object_set_new(copy, "refresh_token", rt) == 0) && ok;
	if (!ok) {
		oa2_json_wipe_decref(copy);
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
		    "out of memory updating the token: nothing was changed"));
	}
	oa2_json_wipe_decref(tok->root);
	tok->root = copy;
	sync_views(tok);
	return (OA2_OK);
}

/* oa2_token_set_string - set or remove one member, checked like the file */
enum oa2_status
oa2_token_set_string(struct oa2_token *tok, const char *name,
		             const char *value, struct oa2_error *err)
{
	const struct field *f;
	enum oa2_status st;
	json_t *v, *old;

	if (tok == NULL || tok->root == NULL || name == NULL || *name == 0)
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
			       "oa2_token_set_string: bad arguments (a bug)"));
	if (!utf8_valid(name) || (value != NULL && !utf8_valid(value)))
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				      "token file: field \"%s\": not valid "
				      "UTF-8", utf8_valid(name) ? name : "?"));
	f = find_field(name);
	if (value == NULL) {
		if (f != NULL && f->kind == KIND_REFRESH)
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				 "token file: field \"%s\" cannot be removed",
					      name));
		/* The old value may be a secret: wiped, not just freed. */
		old = json_incref(json_object_get(tok->root, name));
		(void) json_object_del(tok->root, name);
		oa2_json_wipe_decref(old);
		sync_views(tok);
		return (OA2_OK);
	}
	if ((v = json_string(value)) == NULL)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
			   "out of memory setting field \"%s\": nothing was "
				      "changed", name));
	if (f != NULL && (st = check_member(f, v, "token file", err)) != OA2_OK) {
		oa2_json_wipe_decref(v);
		return (st);
	}
	/* Replacing a member allocates nothing; adding one fails cleanly. */
	old = json_incref(json_object_get(tok->root, name));
	if (json_object_set_new(tok->root, name, v) < 0) {
		json_decref(old);
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
			   "out of memory setting field \"%s\": nothing was "
				      "changed", name));
	}
	oa2_json_wipe_decref(old);
	sync_views(tok);
	return (OA2_OK);
}

/* oa2_token_new - an empty document */
enum oa2_status
oa2_token_new(struct oa2_token *tok, struct oa2_error *err)
{
	token_init(tok);
	if ((tok->root = json_object()) == NULL)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
				 "out of memory creating a token document"));
	return (OA2_OK);
}

/* oa2_token_free - release the document (its strings are wiped) */
void
oa2_token_free(struct oa2_token *tok)
{
	if (tok == NULL)
		return;
	oa2_json_wipe_decref(tok->root);
	token_init(tok);
}

/* write_all - write n bytes, riding out EINTR and short writes */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (w == 0) {
			errno = EIO;
			return (-1);
		}
		p += w;
		n -= (size_t) w;
	}
	return (0);
}

/* hook - tell a test which step of save has just completed */
static void
hook(const char *step)
{
	if (oa2_token_save_hook != NULL)
		oa2_token_save_hook(step);
}

/* dir_of - the directory part of path ("." or "/" when it has none) */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return (oa2_strdup("."));
	if (slash == path)
		return (oa2_strdup("/"));
	return (oa2_strndup(path, (size_t) (slash - path)));
}

/* try_lock_shared - non-blocking shared OFD lock; 1 if granted */
static int
try_lock_shared(int fd)
{
#ifdef F_OFD_SETLK
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	fl.l_whence = SEEK_SET;
	return (fcntl(fd, F_OFD_SETLK, &fl) == 0);
#else
	(void) fd;
	return (0);
#endif
}

/* mark_tmp_live - a writer's OFD write lock on its own temporary file */
static void
mark_tmp_live(int fd)
{
#ifdef F_OFD_SETLK
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	(void) fcntl(fd, F_OFD_SETLK, &fl);
#else
	(void) fd;
#endif
}

/* is_tmp_name - "<base>.tmp.XXXXXX" with six letters or digits */
static int
is_tmp_name(const char *name, const char *base)
{
	size_t  bl = strlen(base), sl = sizeof(TF_TMP_SUFFIX) - 1, i;
	const char *r;

	if (strncmp(name, base, bl) != 0
	    || strncmp(name + bl, TF_TMP_SUFFIX, sl) != 0)
		return (0);
	r = name + bl + sl;
	for (i = 0; r[i]; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z')
		      || (r[i] >= '0' && r[i] <= '9')))
			return (0);
	return (i == TF_TMP_RANDOM);
}

/* clean_stale - remove temp files of writers that were killed; best effort */
static void
clean_stale(const char *dir, const char *base)
{
	struct dirent *de;
	struct stat st, fst;
	time_t  now = time(NULL);
	DIR    *d;
	int     fd;

	/*
	 * A temporary file is stale when it is older than TF_STALE_AGE and no
	 * process holds the write lock its writer takes on it: OFD locks die
	 * with their last descriptor, so a killed writer holds none.
	 */
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!is_tmp_name(de->d_name, base))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(st.st_mode) || now - st.st_mtime <= TF_STALE_AGE)
			continue;
		fd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &fst) == 0 && fst.st_dev == st.st_dev
		    && fst.st_ino == st.st_ino && try_lock_shared(fd))
			(void) unlinkat(dirfd(d), de->d_name, 0);
		(void) close(fd);
	}
	(void) closedir(d);
}

/* sync_dir - make the rename durable; 0, or -1 with errno for a real failure */
static int
sync_dir(const char *dir)
{
	int     fd, rc = 0;

	/* A directory we may write but not read, or one that cannot be
	 * synced (some network and FUSE file systems), is not an error. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (errno == EACCES || errno == EPERM ? 0 : -1);
	if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS
	    && errno != ENOTSUP && errno != EBADF)
		rc = -1;
	(void) close(fd);
	return (rc);
}

/* save_error - a failure before the rename: the old file is untouched */
static enum oa2_status
save_error(const char *dir, const char *path, const char *what, int errnum,
	           struct oa2_error *err)
{
	const char *fix;

	switch (errnum) {
	case EACCES:
	case EPERM:
		return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				"%s: %s: %s: the directory must be writable by "
				      "uid %ld (the plugin replaces the file "
				      "atomically)", dir, what,
				      strerror(errnum), (long) geteuid()));
	case ENOSPC:
	case EDQUOT:
		fix = "free some space";
		break;
	case EROFS:
		fix = "the token file must be on a writable file system";
		break;
	default:
		fix = "check the file system";
		break;
	}
	return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			      "%s: %s: %s: %s; %s is unchanged", dir, what,
			      strerror(errnum), fix, path));
}

/* serialize - the text to write, checked to parse back to the same document */
static enum oa2_status
serialize(json_t *root, const char *path, char **dumpp, size_t *lenp,
	          struct oa2_error *err)
{
	json_error_t je;
	json_t *back;
	char   *dump;
	size_t  len;
	int     nomem, same;

	*dumpp = NULL;
	*lenp = 0;
	if ((dump = oa2_json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER,
				   &len)) == NULL)
		return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
			 "%s: out of memory saving it: it is unchanged", path));

	/*
	 * A file that loaded must still fit after a refresh, or a rotated
	 * refresh token would be lost: when indenting is what makes it too
	 * big, write it compact.
	 */
	if (len + 1 > OA2_TOKFILE_MAX) {
		oa2_wipe(dump, len);
		free(dump);
		if ((dump = oa2_json_dumps(root, JSON_COMPACT
					   | JSON_PRESERVE_ORDER, &len)) == NULL)
			return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
					      "%s: out of memory saving it: it "
					      "is unchanged", path));
		len = strlen(dump);
		if (len + 1 > OA2_TOKFILE_MAX) {
			oa2_wipe(dump, len);
			free(dump);
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: the new content would be larger than %d "
					 "bytes: remove unknown fields; it is "
					      "unchanged", path, OA2_TOKFILE_MAX));
		}
	}

	/* What goes to disk must read back as exactly this document. */
	back = oa2_json_loadb(dump, len, JSON_REJECT_DUPLICATES, &je, &nomem);
	same = back != NULL && json_equal(back, root);
	oa2_json_wipe_decref(back);
	if (!same) {
		oa2_wipe(dump, len);
		free(dump);
		if (nomem)
			return (oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
					      "%s: out of memory saving it: it "
					      "is unchanged", path));
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
				      "%s: the serialized document does not "
				      "read back the same (a bug): it is "
				      "unchanged", path));
	}
	*dumpp = dump;
	*lenp = len;
	return (OA2_OK);
}

/* oa2_token_save - write, fsync, rename over path, fsync the directory */
enum oa2_status
oa2_token_save(const struct oa2_token *tok, const char *path,
	               struct oa2_error *err)
{
	struct oa2_error why;
	struct stat old;
	enum oa2_status st;
	char   *dump = NULL, *tmp = NULL, *dir = NULL;
	size_t  dlen = 0, plen;
	int     fd = -1, have_old = 0, errnum;

	if (tok == NULL || tok->root == NULL || path == NULL || *path == 0)
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
				    "oa2_token_save: bad arguments (a bug)"));
	/* Never write what we would refuse to read back. */
	if (check_document(tok->root, path, &why) != OA2_OK)
		return (oa2_error_set(err, OA2_ERR_INTERNAL, TF_CODE,
				      "%s (refusing to save it: a bug)",
				      why.msg));

	if (lstat(path, &old) == 0) {
		if (S_ISLNK(old.st_mode))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				   "%s: is a symbolic link: give the real path",
					      path));
		if (S_ISDIR(old.st_mode))
			return (oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
				  "%s: is a directory, not a token file", path));
		have_old = S_ISREG(old.st_mode);
	}

	plen = strlen(path);
	if ((st = serialize(tok->root, path, &dump, &dlen, err)) != OA2_OK)
		goto out;
	if ((tmp = oa2_malloc(plen + sizeof(TF_TMP_SUFFIX) + TF_TMP_RANDOM))
	    == NULL || (dir = dir_of(path)) == NULL) {
		st = oa2_error_set(err, OA2_ERR_NOMEM, TF_CODE,
			   "%s: out of memory saving it: it is unchanged", path);
		goto out;
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, TF_TMP_SUFFIX "XXXXXX",
	       sizeof(TF_TMP_SUFFIX) + TF_TMP_RANDOM);

	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		st = save_error(dir, path, "cannot create a temporary file",
				errno, err);
		goto out;
	}
	mark_tmp_live(fd);
	if (fchmod(fd, S_IRUSR | S_IWUSR) < 0) {
		errnum = errno;
		st = save_error(dir, path, "cannot chmod a temporary file",
				errnum, err);
		goto fail;
	}
	/* As root, a file the postfix user can no longer read is a lost file. */
	if (have_old && geteuid() == 0
	    && fchown(fd, old.st_uid, old.st_gid) < 0) {
		errnum = errno;
		st = oa2_error_set(err, OA2_ERR_INPUT, TF_CODE,
			  "%s: cannot give a temporary file the owner %ld:%ld "
				   "of %s: %s; %s is unchanged", dir,
				   (long) old.st_uid, (long) old.st_gid, path,
				   strerror(errnum), path);
		goto fail;
	}
	if (write_all(fd, dump, dlen) < 0 || write_all(fd, "\n", 1) < 0) {
		st = save_error(dir, path, "cannot write a temporary file",
				errno, err);
		goto fail;
	}
	hook("written");
	if (fsync(fd) < 0) {
		st = save_error(dir, path, "cannot sync a temporary file",
				errno, err);
		goto fail;
	}
	hook("synced");
	errnum = close(fd) < 0 ? errno : 0;
	fd = -1;
	if (errnum != 0) {
		st = save_error(dir, path, "cannot close a temporary file",
				errnum, err);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		st = save_error(dir, path, "cannot rename a temporary file "
				"over the token file", errno, err);
		goto fail;
	}
	hook("renamed");
	if (sync_dir(dir) < 0) {
		st = oa2_error_set(err, OA2_ERR_TEMP, TF_CODE,
				   "%s: cannot sync the directory: %s: %s was "
				   "replaced but may not survive a crash",
				   dir, strerror(errno), path);
		goto out;
	}
	clean_stale(dir, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	st = OA2_OK;
	goto out;

fail:
	if (fd >= 0)
		(void) close(fd);
	(void) unlink(tmp);
out:
	if (dump != NULL) {
		oa2_wipe(dump, dlen);
		free(dump);
	}
	oa2_free(tmp);
	oa2_free(dir);
	return (st);
}
