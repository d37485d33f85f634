/*
 * Windows-only checks of the spool and of shutdown, run under Wine by `cargo xtask windows`
 * (xtask/src/windows.rs), which drives the emulator (outage on/off) and checks what it received.
 *
 *   spool writer   URL DIRHEX COMMIT_MS BIDS         page views at 2000/s round-robin over BIDS (comma list),
 *                                                    `ACK i ms` per accepted event, until killed
 *   spool run      URL DIRHEX STOPHEX DEADLINE_MS    a client on the spool directory; `STATS {json}` every
 *                                                    100 ms until the file STOPHEX exists, then shutdown
 *   spool graceful URL DIRHEX BIDS N DEADLINE_MS     N page views, then shutdown within DEADLINE_MS
 *
 * Directories come hex-encoded (UTF-8 bytes): Wine turns argv into UTF-16 with the Unix locale, which CI
 * does not control, and this program must hand the library the exact UTF-8 path under test.
 * Every mode prints `PID n` (the Windows process id, for taskkill) first and `SHUTDOWN status elapsed_ms`
 * at the end; exit code 0 unless a call that must succeed failed.
 */
#include "xmcdp.h"

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *unhex(const char *h) {
    size_t n = strlen(h) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[n] = 0;
    return out;
}

/* The directory as a JSON string body (backslashes and quotes escaped). */
static void json_escape(const char *s, char *out, size_t cap) {
    size_t o = 0;
    for (; *s && o + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = 0;
}

static const char *last_error(void) {
    static char buf[4096];
    size_t len = 0;
    if (xmcdp_last_error((uint8_t *)buf, sizeof buf - 1, &len) != XMCDP_STATUS_OK) return "<last_error failed>";
    buf[len] = 0;
    return buf;
}

/* `attempts`: retryMaxAttempts (a key may appear once: the settings parser refuses repeated keys). */
static xmcdp_client_t client(const char *url, const char *dir, int attempts, const char *extra) {
    static char esc[2048], json[4096];
    json_escape(dir, esc, sizeof esc);
    snprintf(json, sizeof json,
             "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\","
             "\"retryMaxAttempts\":%d,\"retryBaseMs\":5,\"retryMaxBackoffMs\":50,\"spoolDirectory\":\"%s\"%s}",
             url, attempts, esc, extra);
    xmcdp_client_t c = 0;
    xmcdp_str_t s = {(const uint8_t *)json, strlen(json)};
    if (xmcdp_client_new(s, &c) != XMCDP_STATUS_OK) {
        printf("ERROR client_new: %s\n", last_error());
        fflush(stdout);
        exit(2);
    }
    return c;
}

static void print_stats(xmcdp_client_t c) {
    static char buf[65536];
    size_t len = 0;
    if (xmcdp_client_stats(c, (uint8_t *)buf, sizeof buf - 1, &len) == XMCDP_STATUS_OK) {
        buf[len] = 0;
        printf("STATS %s\n", buf);
    } else {
        printf("ERROR stats: %s\n", last_error());
    }
    fflush(stdout);
}

static int view(xmcdp_client_t c, const char *bid, const char *page) {
    xmcdp_page_view_t pv;
    memset(&pv, 0, sizeof pv);
    pv.common.browser_id.ptr = (const uint8_t *)bid;
    pv.common.browser_id.len = strlen(bid);
    pv.common.page.ptr = (const uint8_t *)page;
    pv.common.page.len = strlen(page);
    return xmcdp_client_page_view(c, &pv) == XMCDP_STATUS_OK;
}

/* Splits a comma list in place. */
static int split(char *list, char **out, int max) {
    int n = 0;
    for (char *t = strtok(list, ","); t && n < max; t = strtok(NULL, ",")) out[n++] = t;
    return n;
}

static int shutdown_timed(xmcdp_client_t c, unsigned deadline_ms) {
    ULONGLONG t0 = GetTickCount64();
    xmcdp_status_t s = xmcdp_client_shutdown(c, deadline_ms);
    printf("SHUTDOWN %d %llu\n", (int)s, (unsigned long long)(GetTickCount64() - t0));
    if (s != XMCDP_STATUS_OK) printf("REPORT %s\n", last_error());
    print_stats(c);
    return xmcdp_client_delete(c) == XMCDP_STATUS_OK ? 0 : 3;
}

__attribute__((noreturn)) static void writer(const char *url, const char *dir, int commit_ms, char *bids_arg) {
    char *bids[64], extra[64], page[32];
    int nb = split(bids_arg, bids, 64);
    snprintf(extra, sizeof extra, ",\"spoolCommitIntervalMs\":%d", commit_ms);
    xmcdp_client_t c = client(url, dir, 2, extra);
    ULONGLONG t0 = GetTickCount64();
    for (unsigned long long i = 0;;) {
        unsigned long long due = (GetTickCount64() - t0) * 2; /* 2000 events/s */
        for (; i < due; i++) {
            snprintf(page, sizeof page, "k%llu", i);
            if (view(c, bids[i % nb], page)) printf("ACK %llu %llu\n", i, (unsigned long long)(GetTickCount64() - t0));
        }
        fflush(stdout);
        Sleep(2);
    }
}

static int run(const char *url, const char *dir, const char *stop, unsigned deadline_ms) {
    xmcdp_client_t c = client(url, dir, 2, "");
    wchar_t wstop[1024];
    MultiByteToWideChar(CP_UTF8, 0, stop, -1, wstop, 1024);
    while (GetFileAttributesW(wstop) == INVALID_FILE_ATTRIBUTES) {
        print_stats(c);
        Sleep(100);
    }
    return shutdown_timed(c, deadline_ms);
}

static int graceful(const char *url, const char *dir, char *bids_arg, int n, unsigned deadline_ms) {
    char *bids[64], page[32];
    int nb = split(bids_arg, bids, 64), accepted = 0;
    /* Many retries: without the deadline these events would stay in memory for a long time. */
    xmcdp_client_t c = client(url, dir, 100, "");
    for (int i = 0; i < n; i++) {
        snprintf(page, sizeof page, "g%d", i);
        accepted += view(c, bids[i % nb], page);
    }
    printf("ACCEPTED %d\n", accepted);
    return shutdown_timed(c, deadline_ms);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    printf("PID %lu\n", (unsigned long)GetCurrentProcessId());
    fflush(stdout);
    if (argc == 6 && strcmp(argv[1], "writer") == 0) writer(argv[2], unhex(argv[3]), atoi(argv[4]), argv[5]);
    if (argc == 6 && strcmp(argv[1], "run") == 0) return run(argv[2], unhex(argv[3]), unhex(argv[4]), (unsigned)atoi(argv[5]));
    if (argc == 7 && strcmp(argv[1], "graceful") == 0)
        return graceful(argv[2], unhex(argv[3]), argv[4], atoi(argv[5]), (unsigned)atoi(argv[6]));
    fprintf(stderr, "usage: see the comment at the top of tests/windows/spool.c\n");
    return 64;
}
