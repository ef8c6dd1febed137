/*
 * mfl-aggregator provision: the device lifecycle in the aggregator's store.
 *
 *   add      a new device: id, PSK, public key, group
 *   list     every device: group, status, counters, key fingerprint
 *   show     one device
 *   revoke   refuse its handshakes and updates; the next round drops its
 *            pending updates
 *   readmit  accept a revoked device again, with its counters
 *   rotate   a new PSK and/or public key; counters, group and status stay
 *   remove   delete it; refused while it has pending updates unless
 *            --force, which drops them. Its last counter stays reserved
 *            (store.h), so its old signed updates cannot be replayed
 *            under the id added again
 *
 * It runs beside the server: both open data_dir/state.db (WAL: a reader
 * never waits; a write here waits up to BUSY_MS for the server's), and it
 * never takes data_dir/lock, which the running server holds. The server
 * looks a device up at each handshake (PSK, revoked) and each update
 * (public key, revoked), so a change counts from the device's next one; a
 * DTLS session already open keeps the PSK it was made with until it ends.
 *
 * Secrets stay out of argv, which every local user can read (ps,
 * /proc/PID/cmdline): the PSK comes from --psk-file FILE or standard input
 * ("-"), in hex, white space around it ignored, the same format as
 * `mfl device --psk-file`. --psk HEX still works, with a warning. The PSK
 * is never printed; a public key is shown by its fingerprint, the first 8
 * bytes of the SHA-256 of its 65-byte uncompressed point (SEC1), which
 * `openssl pkey -pubin -in DEV.pub -outform DER | tail -c 65 | sha256sum`
 * gives too.
 *
 * Exit status: 0 done (or nothing to do), 1 failed (a file, the store, an
 * unknown or existing device), 2 usage error; both name what and why.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregator.h"
#include "mfl/host/host_io.h"
#include "mfl/host/keys.h"
#include "mfl/host/store.h"
#include "mfl/messages.h"
#include "provision.h"

#define BUSY_MS 5000     /* the server's write transactions last milliseconds */
#define GROUP_MAX 63     /* mfl_device_rec_t.group, its NUL aside */
#define ID_TEXT (4 * MFL_DEVICE_ID_MAX + 1) /* an id escaped for printing */

enum { /* the options a verb may take, beyond --config */
    O_ID = 1 << 0,
    O_PSK = 1 << 1,
    O_PSK_FILE = 1 << 2,
    O_PUB = 1 << 3,
    O_GROUP = 1 << 4,
    O_FORCE = 1 << 5,
};

typedef struct {
    const char *config, *id, *psk_file, *pub, *group;
    unsigned given; /* O_* */
    uint8_t psk[64]; /* from --psk or --psk-file */
    size_t psk_len;
    mfl_es256_public_t key; /* from --pub */
    char id_text[ID_TEXT];
} prov_args_t;

typedef struct {
    const char *name;
    int (*run)(mfl_store_t *s, const prov_args_t *a);
    unsigned allowed, required;
    const char *synopsis, *what;
} prov_verb_t;

/* ---- messages ---- */

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mfl-aggregator provision: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(mfl-aggregator provision --help lists the verbs and options)\n", stderr);
    va_end(ap);
    return 2;
}

__attribute__((format(printf, 2, 3))) static int failure(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mfl-aggregator provision %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static int store_failure(const char *verb, const prov_args_t *a, int err)
{
    return err == MFL_ERR_NO_DEVICE ? failure(verb, "no device '%s'", a->id_text)
                                    : failure(verb, "%s", mfl_strerror(err));
}

static void fingerprint(const mfl_es256_public_t *pub, char out[17])
{
    uint8_t h[32];
    agg_sha256(pub->q, sizeof(pub->q), h);
    for (int i = 0; i < 8; i++) {
        snprintf(out + 2 * i, 3, "%02x", h[i]);
    }
}

static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

/* ---- the verbs ---- */

static int run_add(mfl_store_t *s, const prov_args_t *a)
{
    mfl_device_rec_t d;
    memset(&d, 0, sizeof(d));
    d.id_len = strlen(a->id);
    memcpy(d.id, a->id, d.id_len);
    memcpy(d.psk, a->psk, a->psk_len);
    d.psk_len = a->psk_len;
    d.pub = a->key;
    snprintf(d.group, sizeof(d.group), "%s", a->group ? a->group : "default");
    int err = mfl_store_add_device(s, &d);
    memset(d.psk, 0, sizeof(d.psk));
    if (err == MFL_ERR_EXISTS) {
        const int revoked = !mfl_store_get_device(s, d.id, d.id_len, &d) && d.revoked;
        memset(d.psk, 0, sizeof(d.psk));
        if (revoked) {
            return failure("add", "device '%s' exists and is revoked: 'readmit --id %s' accepts it again, "
                           "'rotate --id %s' gives it new keys", a->id_text, a->id_text, a->id_text);
        }
        return failure("add", "device '%s' exists: 'rotate --id %s' gives it new keys", a->id_text, a->id_text);
    }
    err = err ? err : mfl_store_get_device(s, d.id, d.id_len, &d);
    memset(d.psk, 0, sizeof(d.psk));
    if (err) {
        return store_failure("add", a, err);
    }
    char fp[17];
    fingerprint(&d.pub, fp);
    printf("added %s: group %s, key %s, PSK of %zu bytes", a->id_text, d.group, fp, a->psk_len);
    if (d.last_counter) {
        printf("; its counters continue above %llu, the last of the device removed under this id",
               (unsigned long long)d.last_counter);
    }
    printf("\n");
    return 0;
}

static int list_row(void *ctx, const mfl_device_rec_t *d)
{
    int *rows = ctx;
    char id[ID_TEXT], fp[17];
    if ((*rows)++ == 0) {
        printf("%-16s %-12s %-8s %12s %9s %8s  %s\n", "ID", "GROUP", "STATUS", "LAST_COUNTER", "ACCEPTED", "PENDING",
               "KEY");
    }
    agg_escape(d->id, d->id_len, id, sizeof(id));
    fingerprint(&d->pub, fp);
    printf("%-16s %-12s %-8s %12llu %9llu %8llu  %s\n", id, d->group, d->revoked ? "revoked" : "active",
           (unsigned long long)d->last_counter, (unsigned long long)d->accepted, (unsigned long long)d->pending, fp);
    return 0;
}

static int run_list(mfl_store_t *s, const prov_args_t *a)
{
    (void)a;
    int rows = 0;
    if (mfl_store_each_device(s, list_row, &rows) < 0) {
        return failure("list", "%s", mfl_strerror(MFL_ERR_STORE));
    }
    if (rows == 0) {
        printf("no devices\n");
    }
    return 0;
}

static int run_show(mfl_store_t *s, const prov_args_t *a)
{
    mfl_device_rec_t d;
    memset(&d, 0, sizeof(d));
    const int err = mfl_store_get_device(s, (const uint8_t *)a->id, strlen(a->id), &d);
    const size_t psk_len = d.psk_len;
    memset(d.psk, 0, sizeof(d.psk));
    if (err) {
        return store_failure("show", a, err);
    }
    char fp[17];
    fingerprint(&d.pub, fp);
    printf("id            %s\n"
           "group         %s\n"
           "status        %s\n"
           "last counter  %llu\n"
           "accepted      %llu update%s, %llu of them waiting for a round\n"
           "key           %s (SHA-256 of the public key, first 8 bytes)\n"
           "psk           %zu bytes (not shown)\n",
           a->id_text, d.group, d.revoked ? "revoked (handshakes and updates refused)" : "active",
           (unsigned long long)d.last_counter, (unsigned long long)d.accepted, plural(d.accepted),
           (unsigned long long)d.pending, fp, psk_len);
    return 0;
}

static int run_revoke(mfl_store_t *s, const prov_args_t *a)
{
    int was = 0;
    mfl_device_rec_t d;
    int err = mfl_store_set_device_revoked(s, (const uint8_t *)a->id, strlen(a->id), 1, &was);
    err = err ? err : mfl_store_get_device(s, (const uint8_t *)a->id, strlen(a->id), &d);
    memset(d.psk, 0, sizeof(d.psk));
    if (err) {
        return store_failure("revoke", a, err);
    }
    if (was) {
        printf("%s was revoked already: nothing changed\n", a->id_text);
    } else if (d.pending) {
        printf("revoked %s: its handshakes and updates are refused from now on; its %llu pending update%s will be "
               "dropped at the next round\n", a->id_text, (unsigned long long)d.pending, plural(d.pending));
    } else {
        printf("revoked %s: its handshakes and updates are refused from now on\n", a->id_text);
    }
    return 0;
}

static int run_readmit(mfl_store_t *s, const prov_args_t *a)
{
    int was = 0;
    mfl_device_rec_t d;
    int err = mfl_store_set_device_revoked(s, (const uint8_t *)a->id, strlen(a->id), 0, &was);
    err = err ? err : mfl_store_get_device(s, (const uint8_t *)a->id, strlen(a->id), &d);
    memset(d.psk, 0, sizeof(d.psk));
    if (err) {
        return store_failure("readmit", a, err);
    }
    if (!was) {
        printf("%s is not revoked: nothing changed\n", a->id_text);
    } else {
        printf("readmitted %s: accepted again from its next handshake, its counters kept (last %llu)\n", a->id_text,
               (unsigned long long)d.last_counter);
    }
    return 0;
}

static int run_rotate(mfl_store_t *s, const prov_args_t *a)
{
    mfl_device_rec_t d;
    const int new_psk = (a->given & (O_PSK | O_PSK_FILE)) != 0, new_pub = (a->given & O_PUB) != 0;
    int err = mfl_store_get_device(s, (const uint8_t *)a->id, strlen(a->id), &d);
    memset(d.psk, 0, sizeof(d.psk));
    err = err ? err : mfl_store_rekey_device(s, (const uint8_t *)a->id, strlen(a->id), new_psk ? a->psk : NULL,
                                             a->psk_len, new_pub ? &a->key : NULL);
    if (err) {
        return store_failure("rotate", a, err);
    }
    char was[17], now[17];
    fingerprint(&d.pub, was);
    fingerprint(&a->key, now);
    printf("rotated %s:", a->id_text);
    if (new_psk) {
        printf(" new PSK of %zu bytes%s", a->psk_len, new_pub ? "," : "");
    }
    if (new_pub) {
        printf(" new key %s (was %s)", now, was);
    }
    printf("; counters kept (last %llu); in force from its next handshake", (unsigned long long)d.last_counter);
    if (d.revoked) {
        printf("; still revoked: 'readmit --id %s' accepts it again", a->id_text);
    }
    printf("\n");
    return 0;
}

static int run_remove(mfl_store_t *s, const prov_args_t *a)
{
    mfl_device_rec_t d;
    uint64_t pending = 0;
    int err = mfl_store_get_device(s, (const uint8_t *)a->id, strlen(a->id), &d);
    memset(d.psk, 0, sizeof(d.psk));
    err = err ? err : mfl_store_remove_device(s, (const uint8_t *)a->id, strlen(a->id), (a->given & O_FORCE) != 0,
                                              &pending);
    if (err == MFL_ERR_BUSY) {
        return failure("remove", "%s has %llu update%s waiting for a round: 'revoke --id %s' has the next round drop "
                       "them, 'remove --id %s --force' drops them now", a->id_text, (unsigned long long)pending,
                       plural(pending), a->id_text, a->id_text);
    }
    if (err) {
        return store_failure("remove", a, err);
    }
    printf("removed %s", a->id_text);
    if (pending) {
        printf(" and dropped its %llu pending update%s", (unsigned long long)pending, plural(pending));
    }
    if (d.last_counter) {
        printf("; its counters up to %llu stay spent: a device added again as %s continues above them",
               (unsigned long long)d.last_counter, a->id_text);
    }
    printf("\n");
    return 0;
}

static const prov_verb_t verbs[] = {
    {"add", run_add, O_ID | O_PSK | O_PSK_FILE | O_PUB | O_GROUP, O_ID | O_PUB,
     "add --id ID --psk-file FILE --pub DEVICE.pub [--group G]", "a new device (group 'default' unless given)"},
    {"list", run_list, 0, 0, "list", "every device: group, status, counters, key fingerprint"},
    {"show", run_show, O_ID, O_ID, "show --id ID", "one device"},
    {"revoke", run_revoke, O_ID, O_ID, "revoke --id ID",
     "refuse its handshakes and updates; the next round drops its pending updates"},
    {"readmit", run_readmit, O_ID, O_ID, "readmit --id ID", "accept a revoked device again, with its counters"},
    {"rotate", run_rotate, O_ID | O_PSK | O_PSK_FILE | O_PUB, O_ID, "rotate --id ID [--psk-file FILE] [--pub NEW.pub]",
     "a new PSK and/or public key; counters, group and status stay"},
    {"remove", run_remove, O_ID | O_FORCE, O_ID, "remove --id ID [--force]",
     "delete it: refused while updates of it wait for a round, unless --force (drops them);\n"
     "      its counters stay spent: the id added again continues above them"},
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static const char *const option_names[] = {"--id", "--psk", "--psk-file", "--pub", "--group", "--force"};

void agg_provision_verbs(FILE *out)
{
    for (size_t i = 0; i < N_VERBS; i++) {
        fprintf(out, "  %s\n      %s\n", verbs[i].synopsis, verbs[i].what);
    }
}

void agg_provision_usage(FILE *out)
{
    fprintf(out, "usage: mfl-aggregator provision --config FILE VERB [options]\n"
                 "Adds and manages the devices in the aggregator's store, also while it serves;\n"
                 "a change takes effect at the device's next DTLS handshake.\n"
                 "Verbs:\n");
    agg_provision_verbs(out);
    fprintf(out,
            "Options:\n"
            "  --config FILE     the aggregator's configuration (its data_dir holds the devices)\n"
            "  --id ID           device id: the DTLS-PSK identity and the COSE kid, 1 to %d printable ASCII\n"
            "                    characters (0x21..0x7e: no spaces)\n"
            "  --psk-file FILE   the PSK in hex (1 to 64 bytes), alone in FILE; '-' reads standard input\n"
            "  --psk HEX         the same on the command line, where other local users can read it\n"
            "  --pub FILE        the device's P-256 public key (PEM or DER), e.g. from mfl keygen\n"
            "  --group G         the device's group (region, cohort), 1 to %d printable ASCII characters\n"
            "  --force           remove: drop the device's pending updates with it\n"
            "  -h, --help        this help\n"
            "Exit status: 0 done, 1 failed, 2 usage error.\n",
            MFL_DEVICE_ID_MAX, GROUP_MAX);
}

/* ---- arguments ---- */

/* Ids and groups are printable ASCII without spaces (0x21..0x7e): they
 * travel as PSK identities, COSE kids, log fields, Prometheus labels and
 * JSON strings, where other bytes need escaping or are not valid text. */
static int has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e) {
            return 1;
        }
    }
    return 0;
}

/* --help anywhere before "--" wins over any error. */
static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            return 1;
        }
    }
    return 0;
}

/* One option's value, checked; 0 or the exit status of a usage error. */
static int take_option(prov_args_t *a, int c, char *value)
{
    const unsigned bit = c == 'i' ? O_ID : c == 'k' ? O_PSK : c == 'P' ? O_PSK_FILE : c == 'p' ? O_PUB
                         : c == 'g' ? O_GROUP : c == 'f' ? O_FORCE : 0;
    if ((a->given & bit) || (c == 'c' && a->config)) {
        return usage_error("%s given twice", c == 'c' ? "--config" : option_names[__builtin_ctz(bit)]);
    }
    a->given |= bit;
    switch (c) {
    case 'c': a->config = value; break;
    case 'i':
        if (!*value || strlen(value) > MFL_DEVICE_ID_MAX || has_control(value)) {
            return usage_error("--id: a device id is 1 to %d printable ASCII characters, no spaces",
                               MFL_DEVICE_ID_MAX);
        }
        a->id = value;
        snprintf(a->id_text, sizeof(a->id_text), "%s", value);
        break;
    case 'k':
        if (mfl_hex_decode(value, a->psk, sizeof(a->psk), &a->psk_len)) {
            return usage_error("--psk: not 1 to %zu bytes in hex (an even number of hex digits)", sizeof(a->psk));
        }
        /* shortens the time `ps` shows it; it was visible until now, hence the warning */
        memset(value, 'x', strlen(value));
        fprintf(stderr, "mfl-aggregator provision: warning: --psk shows the key to every local user (ps, "
                        "/proc/PID/cmdline); use --psk-file FILE, or --psk-file - for standard input\n");
        break;
    case 'P': a->psk_file = value; break;
    case 'p': a->pub = value; break;
    case 'g':
        if (!*value || strlen(value) > GROUP_MAX || has_control(value)) {
            return usage_error("--group: a group name is 1 to %d printable ASCII characters, no spaces",
                               GROUP_MAX);
        }
        a->group = value;
        break;
    default: break; /* 'f': the bit says it */
    }
    return 0;
}

/* Options and the verb; 0 and *verb, or the exit status of a usage error. */
static int parse(int argc, char **argv, prov_args_t *a, const prov_verb_t **verb)
{
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'}, {"id", required_argument, 0, 'i'},
        {"psk", required_argument, 0, 'k'},    {"psk-file", required_argument, 0, 'P'},
        {"pub", required_argument, 0, 'p'},    {"group", required_argument, 0, 'g'},
        {"force", no_argument, 0, 'f'},        {0, 0, 0, 0}};
    int c, rc = 0;
    opterr = 0;
    optind = 0; /* glibc: start afresh */
    while (!rc && (c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        if (c == '?') {
            rc = optopt ? usage_error("unknown option '-%c'", optopt)
                        : usage_error("unknown option '%s'", argv[optind - 1]);
        } else if (c == ':') {
            rc = usage_error("%s needs a value", argv[optind - 1]);
        } else {
            rc = take_option(a, c, optarg);
        }
    }
    if (rc) {
        return rc;
    }
    if (optind >= argc) {
        return usage_error("a verb is needed: add, list, show, revoke, readmit, rotate or remove");
    }
    *verb = NULL;
    for (size_t i = 0; i < N_VERBS && !*verb; i++) {
        *verb = !strcmp(argv[optind], verbs[i].name) ? &verbs[i] : NULL;
    }
    if (!*verb) {
        return usage_error("unknown verb '%s' (add, list, show, revoke, readmit, rotate or remove)", argv[optind]);
    }
    if (optind + 1 < argc) {
        return usage_error("%s: unexpected argument '%s'", argv[optind], argv[optind + 1]);
    }
    const prov_verb_t *v = *verb;
    for (unsigned i = 0; i < sizeof(option_names) / sizeof(option_names[0]); i++) {
        if ((a->given & (1u << i)) && !(v->allowed & (1u << i))) {
            return usage_error("%s does not apply to %s (%s)", option_names[i], v->name, v->synopsis);
        }
        if (!(a->given & (1u << i)) && (v->required & (1u << i))) {
            return usage_error("%s needs %s (%s)", v->name, option_names[i], v->synopsis);
        }
    }
    if ((a->given & O_PSK) && (a->given & O_PSK_FILE)) {
        return usage_error("--psk and --psk-file: one or the other");
    }
    if (!strcmp(v->name, "add") && !(a->given & (O_PSK | O_PSK_FILE))) {
        return usage_error("add needs a PSK: --psk-file FILE, or --psk-file - to read it from standard input");
    }
    if (!strcmp(v->name, "rotate") && !(a->given & (O_PSK | O_PSK_FILE | O_PUB))) {
        return usage_error("rotate needs something new: --psk-file FILE, --pub NEW.pub or both");
    }
    if (!a->config) {
        return usage_error("--config FILE is needed (the aggregator's configuration)");
    }
    return 0;
}

/* ---- inputs ---- */

/* The PSK in hex, alone in the file (white space around it ignored). */
static int read_psk_file(const char *verb, prov_args_t *a)
{
    const int from_stdin = !strcmp(a->psk_file, "-");
    const char *name = from_stdin ? "- (standard input)" : a->psk_file;
    uint8_t *data = NULL;
    size_t len = 0;
    if (from_stdin && isatty(0)) {
        fprintf(stderr, "the PSK in hex, then Enter and Ctrl-D: ");
    }
    const int err = from_stdin ? mfl_read_fd(0, &data, &len) : mfl_read_file(a->psk_file, &data, &len);
    if (err) {
        return failure(verb, "--psk-file %s: %s", name, err == MFL_ERR_IO ? strerror(errno) : mfl_strerror(err));
    }
    data[len] = '\0'; /* mfl_read_file leaves a spare byte */
    const int bad = strlen((char *)data) != len ||
                    mfl_hex_decode(mfl_trim((char *)data), a->psk, sizeof(a->psk), &a->psk_len) != 0;
    memset(data, 0, len);
    free(data);
    return bad ? failure(verb, "--psk-file %s: expected 1 to %zu bytes in hex (an even number of hex digits) and "
                         "nothing else", name, sizeof(a->psk)) : 0;
}

static int read_pub(const char *verb, prov_args_t *a)
{
    struct stat st;
    FILE *f = fopen(a->pub, "rb");
    if (!f) {
        return failure(verb, "--pub %s: %s", a->pub, strerror(errno));
    }
    const int dir = fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode);
    fclose(f);
    if (dir) {
        return failure(verb, "--pub %s: %s", a->pub, strerror(EISDIR));
    }
    errno = 0;
    const int err = mfl_key_load_public(a->pub, &a->key);
    if (err == MFL_ERR_IO) {
        return failure(verb, "--pub %s: %s", a->pub, errno ? strerror(errno) : mfl_strerror(err));
    }
    return err ? failure(verb, "--pub %s: not a P-256 public key (PEM or DER SubjectPublicKeyInfo, or a P-256 key "
                         "pair)", a->pub) : 0;
}

int agg_provision_main(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        agg_provision_usage(stdout);
        return 0;
    }
    prov_args_t a;
    const prov_verb_t *verb = NULL;
    memset(&a, 0, sizeof(a));
    int rc = parse(argc, argv, &a, &verb);
    if (rc) {
        return rc;
    }
    agg_config_t cfg;
    char msg[512];
    if (agg_config_load(a.config, &cfg, msg, sizeof(msg))) {
        fprintf(stderr, "mfl-aggregator provision: %s\n", msg);
        return 2;
    }
    /* the files before the store: a missing key file changes nothing */
    rc = a.psk_file ? read_psk_file(verb->name, &a) : 0;
    rc = rc ? rc : a.pub ? read_pub(verb->name, &a) : 0;
    mfl_store_t *store = NULL;
    int err = rc ? 0 : mfl_store_open(cfg.data_dir, cfg.durability, &store);
    err = err ? err : rc ? 0 : mfl_store_set_busy_timeout(store, BUSY_MS);
    if (err) {
        rc = failure(verb->name, "%s: %s", cfg.data_dir, mfl_strerror(err));
    }
    rc = rc ? rc : verb->run(store, &a);
    mfl_store_close(store);
    memset(a.psk, 0, sizeof(a.psk));
    return rc;
}
