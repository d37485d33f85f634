/*
 * C smoke test of the xmcdp ABI, compiled against bindings/c/xmcdp.h with
 * `gcc -Wall -Werror -std=c99` and linked to the cdylib. Driven by tests/c_smoke.rs, which starts the
 * emulator and creates a browser id, then checks that the emulator received the events sent here.
 *
 * usage: smoke <emulator base url> <browser id>
 * Exit code 0 when every check passed; every failed check is printed.
 */
#include "xmcdp.h"
#include "xmcdp.h" /* twice: the include guard must make this a no-op */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static int checks = 0;

/* An xmcdp_str_t over a string literal (no terminator passed). */
#define S(lit) ((xmcdp_str_t){(const uint8_t *)(lit), sizeof(lit) - 1})
/* An xmcdp_str_t over a NUL-terminated runtime string. */
static xmcdp_str_t str(const char *s) {
    xmcdp_str_t r;
    r.ptr = (const uint8_t *)s;
    r.len = strlen(s);
    return r;
}

static const char *name(xmcdp_status_t s) {
    static char buf[64];
    xmcdp_str_t n = xmcdp_status_name((uint32_t)s);
    size_t len = n.len < sizeof buf - 1 ? n.len : sizeof buf - 1;
    memcpy(buf, n.ptr, len);
    buf[len] = 0;
    return buf;
}

/* The calling thread's last error, NUL-terminated (static buffer). */
static const char *last_error(void) {
    static char buf[4096];
    size_t len = 0;
    if (xmcdp_last_error((uint8_t *)buf, sizeof buf - 1, &len) != XMCDP_STATUS_OK) return "<last_error failed>";
    buf[len] = 0;
    return buf;
}

#define CHECK(cond, ...)                                            \
    do {                                                            \
        checks++;                                                   \
        if (!(cond)) {                                              \
            failures++;                                             \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            printf(__VA_ARGS__);                                    \
            printf("\n");                                           \
        }                                                           \
    } while (0)

/* Expects status `want`; when `field` is non-NULL the last error must mention it. */
static void expect(xmcdp_status_t got, xmcdp_status_t want, const char *field, const char *expr, int line) {
    const char *msg = got == XMCDP_STATUS_OK ? "" : last_error();
    char want_name[64];
    checks++;
    snprintf(want_name, sizeof want_name, "%s", name(want));
    if (got != want) {
        failures++;
        printf("FAIL %s:%d: %s returned %s (%d), want %s: %s\n", __FILE__, line, expr, name(got), (int)got,
               want_name, msg);
    } else if (field != NULL && strstr(msg, field) == NULL) {
        failures++;
        printf("FAIL %s:%d: %s: message `%s` does not name `%s`\n", __FILE__, line, expr, msg, field);
    }
}
#define EXPECT(call, want, field) expect((call), (want), (field), #call, __LINE__)

static void test_version_and_guard(void) {
    CHECK(xmcdp_version() == XMCDP_VERSION_NUMBER, "library %u, header %u", xmcdp_version(),
          (unsigned)XMCDP_VERSION_NUMBER);
    CHECK(xmcdp_api_guard() == XMCDP_API_HASH, "library API hash differs from the header's: stale header or dll");
    CHECK(strcmp(name(XMCDP_STATUS_INVALID_UTF8), "INVALID_UTF8") == 0, "got %s", name(XMCDP_STATUS_INVALID_UTF8));
    CHECK(strcmp(name((xmcdp_status_t)999), "UNKNOWN") == 0, "got %s", name((xmcdp_status_t)999));
}

static void test_bad_config(const char *base) {
    xmcdp_client_t c = 77;
    char json[512];

    EXPECT(xmcdp_client_new(S("{}"), NULL), XMCDP_STATUS_NULL_POINTER, "out_client");
    xmcdp_str_t absent = {NULL, 0};
    EXPECT(xmcdp_client_new(absent, &c), XMCDP_STATUS_NULL_POINTER, "settings_json");
    CHECK(c == 0, "out_client must be 0 after a failure, got %llu", (unsigned long long)c);
    xmcdp_str_t null_with_len = {NULL, 5};
    EXPECT(xmcdp_client_new(null_with_len, &c), XMCDP_STATUS_INVALID_ARGUMENT, "settings_json");
    EXPECT(xmcdp_client_new(S("{\"clientKey\": "), &c), XMCDP_STATUS_INVALID_JSON, NULL);
    snprintf(json, sizeof json,
             "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\","
             "\"noSuchSetting\":1}",
             base);
    EXPECT(xmcdp_client_new(str(json), &c), XMCDP_STATUS_UNKNOWN_KEY, "noSuchSetting");
    EXPECT(xmcdp_client_new(S("{\"clientKey\":\"ck\xff\"}"), &c), XMCDP_STATUS_INVALID_UTF8, "settings_json");

    /* Oversized settings: rejected on length before parsing (the bytes are never read). */
    size_t big_len = 2 * 1024 * 1024;
    char *big = malloc(big_len);
    CHECK(big != NULL, "malloc");
    if (big) {
        memset(big, ' ', big_len);
        xmcdp_str_t s = {(const uint8_t *)big, big_len};
        EXPECT(xmcdp_client_new(s, &c), XMCDP_STATUS_TOO_LARGE, "settings_json");
        free(big);
    }
}

static void test_last_error_buffers(void) {
    size_t need = 0, len = 0;
    char small[4];
    /* Make a known failure, then read it back through a too-small buffer. */
    EXPECT(xmcdp_client_delete(0), XMCDP_STATUS_INVALID_HANDLE, "handle");
    CHECK(xmcdp_last_error(NULL, 0, &need) == XMCDP_STATUS_BUFFER_TOO_SMALL, "size query");
    CHECK(need > sizeof small, "need %zu", need);
    CHECK(xmcdp_last_error((uint8_t *)small, sizeof small, &len) == XMCDP_STATUS_BUFFER_TOO_SMALL, "small buffer");
    CHECK(len == need, "len %zu need %zu", len, need);
    CHECK(xmcdp_last_error(NULL, 0, NULL) == XMCDP_STATUS_NULL_POINTER, "NULL out_len");
    CHECK(xmcdp_last_error(NULL, 10, &len) == XMCDP_STATUS_NULL_POINTER, "NULL buf with cap");
    /* Failing reads of the message must not replace it. */
    CHECK(strstr(last_error(), "handle") != NULL, "message replaced: %s", last_error());
}

static void test_page_views(xmcdp_client_t c, const char *bid) {
    xmcdp_page_view_t pv;
    memset(&pv, 0, sizeof pv);
    pv.common.browser_id = str(bid);
    pv.common.page = S("home");
    pv.common.language = S("EN");
    pv.url = S("/?utm_source=smoke&utm_medium=c");
    pv.referrer = S("https://www.example.com/");
    pv.ext_json = S("{\"test\":\"c-smoke\",\"nested\":{\"a\":1}}");
    pv.user_agent = S("xmcdp-smoke/1.0");
    pv.include_utm = 1;

    EXPECT(xmcdp_client_page_view(c, NULL), XMCDP_STATUS_NULL_POINTER, "page_view");
    EXPECT(xmcdp_client_page_view(0, &pv), XMCDP_STATUS_INVALID_HANDLE, NULL);
    EXPECT(xmcdp_client_page_view(c ^ 0x100000000ULL, &pv), XMCDP_STATUS_INVALID_HANDLE, NULL);
    EXPECT(xmcdp_client_page_view(0xdeadbeefcafeULL, &pv), XMCDP_STATUS_INVALID_HANDLE, NULL);

    xmcdp_page_view_t bad = pv;
    bad.url = S("/caf\xc3(");
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_UTF8, "page_view.url");
    bad = pv;
    bad.common.page = S("\xff");
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_UTF8, "page_view.common.page");

    size_t huge_len = 64 * 1024 + 1;
    char *huge = malloc(huge_len);
    CHECK(huge != NULL, "malloc");
    if (huge) {
        memset(huge, 'a', huge_len);
        bad = pv;
        bad.referrer.ptr = (const uint8_t *)huge;
        bad.referrer.len = huge_len;
        EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_TOO_LARGE, "page_view.referrer");
        bad = pv;
        bad.ext_json.ptr = (const uint8_t *)huge;
        bad.ext_json.len = huge_len;
        EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_TOO_LARGE, "page_view.ext_json");
        free(huge);
    }
    bad = pv;
    bad.ext_json = S("[1,2]");
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_EXT, "page_view.ext_json");
    bad = pv;
    bad.common.browser_id = S("not a browser id");
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_BROWSER_ID, NULL);
    bad = pv;
    bad.page_variant_id.ptr = NULL;
    bad.page_variant_id.len = 3;
    EXPECT(xmcdp_client_page_view(c, &bad), XMCDP_STATUS_INVALID_ARGUMENT, "page_view.page_variant_id");

    EXPECT(xmcdp_client_page_view(c, &pv), XMCDP_STATUS_OK, NULL);
}

static void test_identity(xmcdp_client_t c, const char *bid) {
    xmcdp_identity_t id;
    memset(&id, 0, sizeof id);
    id.common.browser_id = str(bid);
    id.email = S("smoke@example.com");
    id.first_name = S("Ada");
    id.last_name = S("Lovelace");
    id.dob = S("1990-01-31T00:00");

    EXPECT(xmcdp_client_identity(c, NULL), XMCDP_STATUS_NULL_POINTER, "identity");
    EXPECT(xmcdp_client_identity(c, &id), XMCDP_STATUS_MISSING_IDENTIFIERS, NULL);

    xmcdp_identifier_t ids[1];
    memset(ids, 0, sizeof ids);
    ids[0].provider = S("email");
    ids[0].id = S("smoke@example.com");
    xmcdp_str_t street[2] = {S("1 Main Street"), S("Apt 2")};
    id.identifiers = ids;
    id.identifiers_len = 1;
    id.street = street;
    id.street_len = 2;

    xmcdp_identity_t bad = id;
    bad.email = S("not-an-email");
    EXPECT(xmcdp_client_identity(c, &bad), XMCDP_STATUS_INVALID_EMAIL, NULL);
    bad = id;
    bad.identifiers = NULL;
    EXPECT(xmcdp_client_identity(c, &bad), XMCDP_STATUS_NULL_POINTER, "identity.identifiers");
    bad = id;
    bad.identifiers_len = 1000;
    EXPECT(xmcdp_client_identity(c, &bad), XMCDP_STATUS_TOO_LARGE, "identity.identifiers");
    xmcdp_str_t bad_street[2] = {S("ok"), S("\xc0\x80")};
    bad = id;
    bad.street = bad_street;
    EXPECT(xmcdp_client_identity(c, &bad), XMCDP_STATUS_INVALID_UTF8, "identity.street[1]");

    EXPECT(xmcdp_client_identity(c, &id), XMCDP_STATUS_OK, NULL);
}

static void test_custom_event(xmcdp_client_t c, const char *bid) {
    xmcdp_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.common.browser_id = str(bid);
    ev.event_type = S("ADD");
    ev.data_json = S("{\"product\":{\"name\":\"Smoke\",\"type\":\"TEST\",\"item_id\":\"SKU-1\","
                     "\"productId\":\"P-1\",\"currency\":\"EUR\",\"price\":1.5,\"quantity\":1}}");

    EXPECT(xmcdp_client_event(c, NULL), XMCDP_STATUS_NULL_POINTER, "custom_event");
    xmcdp_event_t bad = ev;
    bad.event_type = S("VIEW");
    EXPECT(xmcdp_client_event(c, &bad), XMCDP_STATUS_INVALID_EVENT_TYPE, NULL);
    bad = ev;
    bad.event_type.ptr = NULL;
    bad.event_type.len = 0;
    EXPECT(xmcdp_client_event(c, &bad), XMCDP_STATUS_INVALID_EVENT_TYPE, NULL);
    bad = ev;
    bad.data_json = S("[]");
    EXPECT(xmcdp_client_event(c, &bad), XMCDP_STATUS_INVALID_FIELD, "event.data_json");
    bad = ev;
    bad.data_json = S("{\"type\":\"X\"}");
    EXPECT(xmcdp_client_event(c, &bad), XMCDP_STATUS_INVALID_FIELD, NULL);

    EXPECT(xmcdp_client_event(c, &ev), XMCDP_STATUS_OK, NULL);
}

static void test_stats(xmcdp_client_t c) {
    char buf[8192];
    size_t need = 0, len = 0;
    EXPECT(xmcdp_client_stats(c, (uint8_t *)buf, 1, &need), XMCDP_STATUS_BUFFER_TOO_SMALL, "stats");
    CHECK(need > 1, "need %zu", need);
    EXPECT(xmcdp_client_stats(c, NULL, 0, &need), XMCDP_STATUS_BUFFER_TOO_SMALL, NULL);
    EXPECT(xmcdp_client_stats(c, (uint8_t *)buf, sizeof buf, NULL), XMCDP_STATUS_NULL_POINTER, "out_len");
    EXPECT(xmcdp_client_stats(c, (uint8_t *)buf, sizeof buf - 1, &len), XMCDP_STATUS_OK, NULL);
    buf[len < sizeof buf ? len : sizeof buf - 1] = 0;
    CHECK(len > 0 && buf[0] == '{', "stats: %s", buf);
}

static void test_log_next(void) {
    uint32_t level = 0;
    size_t need = 0, len = 0;
    char buf[4096];
    int records = 0;

    EXPECT(xmcdp_log_next(0, NULL, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NULL_POINTER, "out_level");
    /* A size query keeps the record queued; the next call with room returns it. */
    xmcdp_status_t s = xmcdp_log_next(1000, &level, NULL, 0, &need);
    CHECK(s == XMCDP_STATUS_BUFFER_TOO_SMALL, "first record size query: %s", name(s));
    if (s == XMCDP_STATUS_BUFFER_TOO_SMALL) {
        EXPECT(xmcdp_log_next(0, &level, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_OK, NULL);
        CHECK(len == need, "re-read record has %zu bytes, size query said %zu", len, need);
        CHECK(level >= 1 && level <= 4, "level %u", level);
    }
    while ((s = xmcdp_log_next(0, &level, (uint8_t *)buf, sizeof buf - 1, &len)) == XMCDP_STATUS_OK) {
        buf[len] = 0;
        records++;
        printf("log %u: %s\n", level, buf);
    }
    CHECK(s == XMCDP_STATUS_NO_RECORD, "drain ended with %s", name(s));
    EXPECT(xmcdp_log_next(10, &level, (uint8_t *)buf, sizeof buf, &len), XMCDP_STATUS_NO_RECORD, NULL);
    (void)records;
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : getenv("XMCDP_EMULATOR_URL");
    const char *bid = argc > 2 ? argv[2] : getenv("XMCDP_BROWSER_ID");
    if (base == NULL || bid == NULL) {
        fprintf(stderr, "usage: smoke <emulator base url> <browser id>\n");
        return 2;
    }

    test_version_and_guard();
    test_bad_config(base);
    test_last_error_buffers();

    char json[512];
    snprintf(json, sizeof json,
             "{\"clientKey\":\"ck_test\",\"targetUrl\":\"%s\",\"pointOfSale\":\"myretailsite/ireland\"}", base);
    xmcdp_client_t c = 0;
    EXPECT(xmcdp_client_new(str(json), &c), XMCDP_STATUS_OK, NULL);
    CHECK(c != 0, "handle is 0");
    if (c != 0) {
        test_page_views(c, bid);
        test_identity(c, bid);
        test_custom_event(c, bid);
        test_stats(c);

        EXPECT(xmcdp_client_shutdown(c, 10000), XMCDP_STATUS_OK, NULL);
        EXPECT(xmcdp_client_shutdown(c, 10000), XMCDP_STATUS_OK, NULL); /* idempotent */
        xmcdp_event_t late;
        memset(&late, 0, sizeof late);
        late.common.browser_id = str(bid);
        late.event_type = S("LATE");
        EXPECT(xmcdp_client_event(c, &late), XMCDP_STATUS_SHUT_DOWN, NULL);
        test_stats(c); /* readable after shutdown */

        EXPECT(xmcdp_client_delete(c), XMCDP_STATUS_OK, NULL);
        EXPECT(xmcdp_client_delete(c), XMCDP_STATUS_INVALID_HANDLE, "handle"); /* double delete */
        EXPECT(xmcdp_client_shutdown(c, 0), XMCDP_STATUS_INVALID_HANDLE, NULL);
        size_t len = 0;
        EXPECT(xmcdp_client_stats(c, NULL, 0, &len), XMCDP_STATUS_INVALID_HANDLE, NULL);
    }

    /* A client deleted without shutdown (delete shuts it down itself). */
    xmcdp_client_t c2 = 0;
    EXPECT(xmcdp_client_new(str(json), &c2), XMCDP_STATUS_OK, NULL);
    CHECK(c2 != c, "handles are not reused");
    EXPECT(xmcdp_client_delete(c2), XMCDP_STATUS_OK, NULL);

    test_log_next();

    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
