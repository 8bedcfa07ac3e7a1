/* C-client (libzookeeper_mt) checks for what cli_mt cannot do from its
 * shell: multi (success + atomic rollback), getAcl/setAcl with digest ACLs,
 * addauth, exists watch.   usage: capi_check HOST:PORT /base/path
 * Prints "  ok: ..." per check; exits 1 with "FAIL ..." on the first mismatch. */
#include <zookeeper/zookeeper.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

static volatile int connected = 0;
static volatile int created_event = 0;

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh; (void)ctx;
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) connected = 1;
    if (type == ZOO_CREATED_EVENT && path && strstr(path, "/watched")) created_event = 1;
}

#define FAIL(...) do { fprintf(stderr, "FAIL capi_check: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define EXPECT_RC(call, want) do { int _rc = (call); if (_rc != (want)) \
    FAIL("%s: rc=%d (%s), expected %d (%s)", #call, _rc, zerror(_rc), (want), zerror(want)); } while (0)

static void wait_flag(volatile int *flag, const char *what) {
    for (int i = 0; i < 200 && !*flag; i++) usleep(50000);
    if (!*flag) FAIL("timed out (10s) waiting for %s", what);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s HOST:PORT /base\n", argv[0]); return 2; }
    const char *base = argv[2];
    char a[512], b[512], w[512], buf[64];
    snprintf(a, sizeof a, "%s/a", base);
    snprintf(b, sizeof b, "%s/b", base);
    snprintf(w, sizeof w, "%s/watched", base);
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zhandle_t *zh = zookeeper_init(argv[1], watcher, 10000, 0, 0, 0);
    if (!zh) FAIL("zookeeper_init");
    wait_flag(&connected, "session connect");
    printf("  ok: C API connected\n");

    /* multi that succeeds: create base, create a, set a (v0), check a (v1) */
    zoo_op_t ops[4]; zoo_op_result_t res[4];
    char p0[512], p1[512];
    zoo_create_op_init(&ops[0], base, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, p0, sizeof p0);
    zoo_create_op_init(&ops[1], a, "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p1, sizeof p1);
    zoo_set_op_init(&ops[2], a, "yy", 2, 0, NULL);
    zoo_check_op_init(&ops[3], a, 1);
    EXPECT_RC(zoo_multi(zh, 4, ops, res), ZOK);
    for (int i = 0; i < 4; i++) if (res[i].err != ZOK) FAIL("multi op %d err=%d", i, res[i].err);
    if (strcmp(p1, a) != 0) FAIL("multi create returned path '%s', want '%s'", p1, a);
    int len = sizeof buf; struct Stat st;
    EXPECT_RC(zoo_get(zh, a, 0, buf, &len, &st), ZOK);
    if (len != 2 || memcmp(buf, "yy", 2) != 0 || st.version != 1)
        FAIL("after multi: data len %d version %d, want 'yy' version 1", len, st.version);
    printf("  ok: multi create+create+setData+check committed atomically\n");

    /* multi that fails: create b, then check a at a wrong version */
    zoo_op_t ops2[2]; zoo_op_result_t res2[2]; char p2[512];
    zoo_create_op_init(&ops2[0], b, "z", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p2, sizeof p2);
    zoo_check_op_init(&ops2[1], a, 7);
    EXPECT_RC(zoo_multi(zh, 2, ops2, res2), ZBADVERSION);
    if (res2[0].err != ZOK && res2[0].err != ZRUNTIMEINCONSISTENCY)
        FAIL("failed multi: op0 err=%d, want 0 or %d", res2[0].err, ZRUNTIMEINCONSISTENCY);
    if (res2[1].err != ZBADVERSION) FAIL("failed multi: op1 err=%d, want %d", res2[1].err, ZBADVERSION);
    EXPECT_RC(zoo_exists(zh, b, 0, &st), ZNONODE);
    printf("  ok: failing multi (BADVERSION) rolled back, per-op results\n");

    /* getAcl / setAcl (digest) / NoAuth / addauth */
    struct ACL_vector acls;
    EXPECT_RC(zoo_get_acl(zh, a, &acls, &st), ZOK);
    if (acls.count != 1 || strcmp(acls.data[0].id.scheme, "world") || strcmp(acls.data[0].id.id, "anyone")
        || acls.data[0].perms != ZOO_PERM_ALL)
        FAIL("getAcl: unexpected ACL (count %d)", acls.count);
    deallocate_ACL_vector(&acls);
    const char *digest = getenv("CAPI_DIGEST_ID"); /* u1:base64(sha1(u1:p1)) */
    if (!digest) FAIL("CAPI_DIGEST_ID not set");
    struct ACL acl = { ZOO_PERM_ALL, { "digest", (char *)digest } };
    struct ACL_vector dv = { 1, &acl };
    EXPECT_RC(zoo_set_acl(zh, a, 0, &dv), ZOK);
    EXPECT_RC(zoo_set_acl(zh, a, 0, &dv), ZNOAUTH); /* now we lack ADMIN */
    len = sizeof buf;
    EXPECT_RC(zoo_get(zh, a, 0, buf, &len, &st), ZNOAUTH);
    EXPECT_RC(zoo_add_auth(zh, "digest", "u1:p1", 5, NULL, NULL), ZOK);
    len = sizeof buf;
    EXPECT_RC(zoo_get(zh, a, 0, buf, &len, &st), ZOK); /* ordered after add_auth */
    EXPECT_RC(zoo_get_acl(zh, a, &acls, &st), ZOK);
    if (acls.count != 1 || strcmp(acls.data[0].id.scheme, "digest") || strcmp(acls.data[0].id.id, digest)
        || st.aversion != 1)
        FAIL("getAcl after setAcl: count %d aversion %d", acls.count, st.aversion);
    deallocate_ACL_vector(&acls);
    printf("  ok: setAcl digest, NOAUTH, addauth, getAcl (aversion=1)\n");

    /* exists watch on a missing node fires on create */
    EXPECT_RC(zoo_exists(zh, w, 1, &st), ZNONODE);
    EXPECT_RC(zoo_create(zh, w, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0), ZOK);
    wait_flag(&created_event, "NodeCreated watch");
    printf("  ok: exists watch fired on create (ephemeral)\n");

    /* multi delete everything */
    zoo_op_t ops3[3]; zoo_op_result_t res3[3];
    zoo_delete_op_init(&ops3[0], w, -1);
    zoo_delete_op_init(&ops3[1], a, 1);
    zoo_delete_op_init(&ops3[2], base, 0);
    EXPECT_RC(zoo_multi(zh, 3, ops3, res3), ZOK);
    EXPECT_RC(zoo_exists(zh, base, 0, &st), ZNONODE);
    printf("  ok: multi delete\n");
    zookeeper_close(zh);
    return 0;
}
