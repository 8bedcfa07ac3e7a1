// The Java side of tests/zab_wire_java.rs: Apache ZooKeeper's own classes build and read
// server-to-server bytes, so the Rust codec can be compared with them byte for byte.
//
//   java ZabWireCheck emit    prints "name<TAB>hex" lines built by ZooKeeper's code
//   java ZabWireCheck parse   reads "kind<TAB>hex" lines on stdin and prints, per line,
//                             what ZooKeeper's readers make of the bytes
//
// Runs against Debian's /usr/share/java/zookeeper.jar (3.8). Where ZooKeeper builds bytes
// inline in a private method (the election handshake, the PING reply, REVALIDATE), this
// program repeats that method's writes as its source has them.

import java.io.*;
import java.lang.reflect.*;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.*;

import org.apache.jute.BinaryInputArchive;
import org.apache.jute.BinaryOutputArchive;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.common.NetUtils;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.StatPersisted;
import org.apache.zookeeper.server.DataNode;
import org.apache.zookeeper.server.DataTree;
import org.apache.zookeeper.server.util.SerializeUtils;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.quorum.FastLeaderElection;
import org.apache.zookeeper.server.quorum.Leader;
import org.apache.zookeeper.server.quorum.LearnerInfo;
import org.apache.zookeeper.server.quorum.QuorumCnxManager;
import org.apache.zookeeper.server.quorum.QuorumPacket;
import org.apache.zookeeper.server.quorum.flexible.QuorumMaj;
import org.apache.zookeeper.server.util.ZxidUtils;

public class ZabWireCheck {
    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x & 0xff));
        return sb.toString();
    }

    static byte[] unhex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return b;
    }

    static void out(String name, byte[] bytes) {
        System.out.println(name + "\t" + hex(bytes));
    }

    static byte[] packet(QuorumPacket qp) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        BinaryOutputArchive.getArchive(bos).writeRecord(qp, "packet");
        return bos.toByteArray();
    }

    static int leaderConstant(String name) throws Exception {
        Field f = Leader.class.getDeclaredField(name);
        f.setAccessible(true);
        return f.getInt(null);
    }

    static Object staticField(Class<?> c, String name) throws Exception {
        Field f = c.getDeclaredField(name);
        f.setAccessible(true);
        return f.get(null);
    }

    static final String[] TYPES = {
        "REQUEST", "PROPOSAL", "ACK", "COMMIT", "PING", "REVALIDATE", "SYNC", "INFORM",
        "COMMITANDACTIVATE", "NEWLEADER", "FOLLOWERINFO", "UPTODATE", "DIFF", "TRUNC", "SNAP",
        "OBSERVERINFO", "LEADERINFO", "ACKEPOCH", "INFORMANDACTIVATE",
    };

    static void emit() throws Exception {
        out("snapbody", javaSnapBody());
        for (String t : TYPES) {
            System.out.println("type:" + t + "\t" + leaderConstant(t));
        }
        System.out.println("const:PACKETMAXSIZE\t" + staticField(QuorumCnxManager.class, "PACKETMAXSIZE"));
        System.out.println("const:maxBuffer\t" + staticField(QuorumCnxManager.class, "maxBuffer"));
        System.out.println("const:PROTOCOL_VERSION_V1\t" + QuorumCnxManager.PROTOCOL_VERSION_V1);
        System.out.println("const:PROTOCOL_VERSION_V2\t" + QuorumCnxManager.PROTOCOL_VERSION_V2);
        System.out.println("const:finalizeWait\t" + staticField(FastLeaderElection.class, "finalizeWait"));
        System.out.println("const:minNotificationInterval\t" + staticField(FastLeaderElection.class, "minNotificationInterval"));
        System.out.println("const:maxNotificationInterval\t" + staticField(FastLeaderElection.class, "maxNotificationInterval"));

        // Learner.registerWithLeader: LearnerInfo as a jute record in the data.
        for (Object[] c : new Object[][] {
                {"followerinfo", leaderConstant("FOLLOWERINFO"), 2L, 1L, 0L},
                {"observerinfo", leaderConstant("OBSERVERINFO"), 4L, 7L, 0x100000000L}}) {
            LearnerInfo li = new LearnerInfo((Long) c[2], 0x10000, (Long) c[4]);
            ByteArrayOutputStream bsid = new ByteArrayOutputStream();
            BinaryOutputArchive.getArchive(bsid).writeRecord(li, "LearnerInfo");
            out("packet:" + c[0], packet(new QuorumPacket((Integer) c[1], ZxidUtils.makeZxid((Long) c[3], 0), bsid.toByteArray(), null)));
        }
        // LearnerHandler.run: LEADERINFO.
        byte[] ver = new byte[4];
        ByteBuffer.wrap(ver).putInt(0x10000);
        out("packet:leaderinfo", packet(new QuorumPacket(Leader.LEADERINFO, ZxidUtils.makeZxid(3, 0), ver, null)));
        // Learner.registerWithLeader: ACKEPOCH, with the current epoch and with -1.
        for (int epoch : new int[] {1, -1}) {
            byte[] epochBytes = new byte[4];
            ByteBuffer.wrap(epochBytes).putInt(epoch);
            out("packet:ackepoch" + epoch, packet(new QuorumPacket(Leader.ACKEPOCH, 0x100000007L, epochBytes, null)));
        }
        // LearnerHandler: NEWLEADER with the last-seen config, and with null.
        out("packet:newleader", packet(new QuorumPacket(leaderConstant("NEWLEADER"), ZxidUtils.makeZxid(2, 0),
                "server.1=127.0.0.1:2888:3888:participant\nversion=0".getBytes(StandardCharsets.UTF_8), null)));
        out("packet:newleader-null", packet(new QuorumPacket(leaderConstant("NEWLEADER"), ZxidUtils.makeZxid(2, 0), null, null)));
        // Leader.ping and Learner.ping.
        QuorumPacket ping = new QuorumPacket(leaderConstant("PING"), 0x100000009L, null, null);
        out("packet:ping", packet(ping));
        for (int n : new int[] {0, 2}) {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            DataOutputStream dos = new DataOutputStream(bos);
            if (n == 2) {
                dos.writeLong(0x0100000000000001L);
                dos.writeInt(30000);
                dos.writeLong(2L);
                dos.writeInt(4000);
            }
            out("packet:pingreply" + n, packet(new QuorumPacket(ping.getType(), ping.getZxid(), bos.toByteArray(), ping.getAuthinfo())));
        }
        // Learner.revalidate and Leader.revalidateSession.
        {
            ByteArrayOutputStream baos = new ByteArrayOutputStream();
            DataOutputStream dos = new DataOutputStream(baos);
            dos.writeLong(0x0200000000000005L);
            dos.writeInt(10000);
            dos.close();
            QuorumPacket qp = new QuorumPacket(leaderConstant("REVALIDATE"), -1, baos.toByteArray(), null);
            out("packet:revalidate", packet(qp));
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            DataOutputStream dos2 = new DataOutputStream(bos);
            dos2.writeLong(0x0200000000000005L);
            dos2.writeBoolean(true);
            qp.setData(bos.toByteArray());
            out("packet:revalidatereply", packet(qp));
        }
        // Learner.request: sessionId, cxid, type, then the request body.
        for (int withAuth = 0; withAuth < 2; withAuth++) {
            ByteArrayOutputStream baos = new ByteArrayOutputStream();
            DataOutputStream oa = new DataOutputStream(baos);
            oa.writeLong(0x0100000000000001L);
            oa.writeInt(7);
            oa.writeInt(1);
            oa.write("body".getBytes(StandardCharsets.UTF_8));
            oa.close();
            List<Id> auth = new ArrayList<>();
            if (withAuth == 1) {
                auth.add(new Id("digest", "user:hash"));
                auth.add(new Id("ip", "127.0.0.1"));
            }
            out("packet:request" + withAuth, packet(new QuorumPacket(leaderConstant("REQUEST"), -1, baos.toByteArray(), auth)));
        }
        out("packet:ack", packet(new QuorumPacket(leaderConstant("ACK"), 0x200000001L, null, null)));
        out("packet:commit", packet(new QuorumPacket(leaderConstant("COMMIT"), 0x200000001L, null, null)));
        out("packet:uptodate", packet(new QuorumPacket(leaderConstant("UPTODATE"), -1, null, null)));
        out("packet:sync", packet(new QuorumPacket(leaderConstant("SYNC"), 0, null, null)));
        out("packet:diff", packet(new QuorumPacket(leaderConstant("DIFF"), 0x100000005L, null, null)));
        out("packet:trunc", packet(new QuorumPacket(leaderConstant("TRUNC"), 0x100000004L, null, null)));
        out("packet:snap", packet(new QuorumPacket(leaderConstant("SNAP"), 0x100000006L, null, null)));
        out("packet:unknown42", packet(new QuorumPacket(42, 9, new byte[] {1, 2, 3}, new ArrayList<>())));

        // FastLeaderElection.buildMsg (package-private, static): both forms.
        Method build6 = FastLeaderElection.class.getDeclaredMethod("buildMsg", int.class, long.class, long.class, long.class, long.class, byte[].class);
        build6.setAccessible(true);
        Method build5 = FastLeaderElection.class.getDeclaredMethod("buildMsg", int.class, long.class, long.class, long.class, long.class);
        build5.setAccessible(true);
        byte[] config = "server.1=127.0.0.1:2888:3888:participant\nversion=0".getBytes(StandardCharsets.UTF_8);
        out("notification:looking", ((ByteBuffer) build6.invoke(null, 0, 3L, 0x100000005L, 2L, 1L, config)).array());
        out("notification:leading-empty", ((ByteBuffer) build6.invoke(null, 2, 1L, -1L, 7L, 0x7fffffffL, new byte[0])).array());
        out("notification:observer-min", ((ByteBuffer) build6.invoke(null, 0, Long.MIN_VALUE, Long.MIN_VALUE, 1L, Long.MIN_VALUE, config)).array());
        out("notification:v1-40", ((ByteBuffer) build5.invoke(null, 1, 3L, 0x100000005L, 2L, 1L)).array());

        // QuorumMaj.toString over configurations parsed as a dynamic config file is.
        String[][] configs = {
            {"server.1", "127.0.0.1:2888:3888", "server.2", "127.0.0.1:2889:3889", "server.3", "127.0.0.1:2890:3890"},
            {"server.1", "127.0.0.1:2888:3888:participant;2181", "server.2", "127.0.0.1:2889:3889:participant;127.0.0.1:2182",
             "server.3", "[::1]:2890:3890:observer;[::1]:2183", "version", "100000000"},
            {"server.5", "10.0.0.5:2888:3888", "server.20", "10.0.0.20:2888:3888", "server.1", "10.0.0.1:2888:3888:observer"},
        };
        for (int i = 0; i < configs.length; i++) {
            Properties p = new Properties();
            for (int j = 0; j < configs[i].length; j += 2) p.setProperty(configs[i][j], configs[i][j + 1]);
            out("config:" + i, new QuorumMaj(p).toString().getBytes(StandardCharsets.UTF_8));
        }

        // QuorumCnxManager.startConnection writes the V1 initial message this way.
        {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            DataOutputStream dout = new DataOutputStream(bos);
            dout.writeLong(QuorumCnxManager.PROTOCOL_VERSION_V1);
            dout.writeLong(3);
            byte[] addr = NetUtils.formatInetAddr(new InetSocketAddress("10.0.0.3", 3888)).getBytes();
            dout.writeInt(addr.length);
            dout.write(addr);
            dout.flush();
            out("handshake:v1", bos.toByteArray());
            bos.reset();
            dout.writeLong(QuorumCnxManager.PROTOCOL_VERSION_V1);
            dout.writeLong(4);
            addr = NetUtils.formatInetAddr(new InetSocketAddress("::1", 3888)).getBytes();
            dout.writeInt(addr.length);
            dout.write(addr);
            dout.flush();
            out("handshake:v1-ipv6", bos.toByteArray());
        }
    }

    static String describe(QuorumPacket qp) {
        StringBuilder sb = new StringBuilder();
        sb.append(qp.getType()).append(' ').append(qp.getZxid()).append(' ');
        sb.append(qp.getData() == null ? "null" : "0x" + hex(qp.getData()));
        sb.append(' ');
        if (qp.getAuthinfo() == null) {
            sb.append("null");
        } else {
            sb.append('[');
            for (int i = 0; i < qp.getAuthinfo().size(); i++) {
                if (i > 0) sb.append(',');
                Id id = qp.getAuthinfo().get(i);
                sb.append(id.getScheme()).append('=').append(id.getId());
            }
            sb.append(']');
        }
        return sb.toString();
    }

    static void parse() throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] kv = line.split("\t", 2);
            byte[] bytes = unhex(kv[1]);
            String result;
            try {
                switch (kv[0]) {
                case "packet": {
                    ByteArrayInputStream bis = new ByteArrayInputStream(bytes);
                    QuorumPacket qp = new QuorumPacket();
                    BinaryInputArchive.getArchive(bis).readRecord(qp, "packet");
                    result = describe(qp) + " consumed=" + (bytes.length - bis.available());
                    break;
                }
                case "learnerinfo": {
                    LearnerInfo li = new LearnerInfo();
                    BinaryInputArchive.getArchive(new ByteArrayInputStream(bytes)).readRecord(li, "LearnerInfo");
                    result = li.getServerid() + " " + li.getProtocolVersion() + " " + li.getConfigVersion();
                    break;
                }
                case "handshake": {
                    DataInputStream din = new DataInputStream(new ByteArrayInputStream(bytes));
                    long first = din.readLong();
                    if (first >= 0) {
                        result = "sid=" + first;
                    } else {
                        QuorumCnxManager.InitialMessage m = QuorumCnxManager.InitialMessage.parse(first, din);
                        StringBuilder sb = new StringBuilder("sid=" + m.sid);
                        for (InetSocketAddress a : m.electionAddr) {
                            sb.append(' ').append(a.getHostString()).append(':').append(a.getPort());
                        }
                        result = sb.toString();
                    }
                    break;
                }
                case "snapbody": {
                    // What a Java learner does with a SNAP body (Learner.syncWithLeader).
                    BinaryInputArchive ia = BinaryInputArchive.getArchive(new ByteArrayInputStream(bytes));
                    DataTree dt = new DataTree();
                    Map<Long, Integer> sessions = new HashMap<>();
                    SerializeUtils.deserializeSnapshot(dt, ia, sessions);
                    String sig = ia.readString("signature");
                    result = "signature=" + sig + "\n" + canonicalTree(dt, sessions);
                    break;
                }
                case "config": {
                    Properties p = new Properties();
                    p.load(new StringReader(new String(bytes, StandardCharsets.UTF_8)));
                    result = "0x" + hex(new QuorumMaj(p).toString().getBytes(StandardCharsets.UTF_8));
                    break;
                }
                default:
                    result = "unknown kind " + kv[0];
                }
            } catch (Exception e) {
                result = "error " + e.getClass().getSimpleName();
            }
            System.out.println(kv[0] + "\t" + result);
        }
    }

    /// One line per session and per node, sorted, in the form tests/zab_wire_java.rs
    /// prints for ringkeeper's tree: every stored field.
    static String canonicalTree(DataTree dt, Map<Long, Integer> sessions) throws Exception {
        List<String> lines = new ArrayList<>();
        for (Map.Entry<Long, Integer> e : sessions.entrySet()) {
            lines.add("session " + e.getKey() + " " + e.getValue());
        }
        Deque<String> todo = new ArrayDeque<>();
        todo.push("");
        while (!todo.isEmpty()) {
            String path = todo.pop();
            DataNode n = dt.getNode(path);
            for (String c : n.getChildren()) todo.push(path + "/" + c);
            StatPersisted st = n.stat;
            byte[] data = n.getData();
            StringBuilder acl = new StringBuilder();
            for (ACL a : dt.getACL(n)) {
                acl.append(a.getPerms()).append(':').append(a.getId().getScheme()).append(':').append(a.getId().getId()).append(';');
            }
            lines.add("node " + (path.isEmpty() ? "/" : path) + " data=" + (data == null ? "null" : hex(data))
                + " stat=" + st.getCzxid() + "," + st.getMzxid() + "," + st.getCtime() + "," + st.getMtime() + ","
                + st.getVersion() + "," + st.getCversion() + "," + st.getAversion() + "," + st.getEphemeralOwner() + ","
                + st.getPzxid() + " acl=" + acl);
        }
        Collections.sort(lines);
        return String.join("\n", lines);
    }

    /// A SNAP body as a Java leader writes it (LearnerHandler: serializeSnapshot, then
    /// the signature), of a tree built with DataTree's own createNode.
    static byte[] javaSnapBody() throws Exception {
        DataTree dt = new DataTree();
        List<ACL> digest = Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("digest", "user:hash=")),
            new ACL(ZooDefs.Perms.READ, new Id("world", "anyone")));
        dt.createNode("/app", "root".getBytes(StandardCharsets.UTF_8), ZooDefs.Ids.OPEN_ACL_UNSAFE, 0, 0, 3, 1000);
        dt.createNode("/app/null", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, 0, 1, 4, 1001);
        dt.createNode("/app/empty", new byte[0], ZooDefs.Ids.READ_ACL_UNSAFE, 0, 2, 5, 1002);
        dt.createNode("/app/secret", "s".getBytes(StandardCharsets.UTF_8), digest, 0, 3, 6, 1003);
        dt.createNode("/app/eph", "e".getBytes(StandardCharsets.UTF_8), ZooDefs.Ids.OPEN_ACL_UNSAFE, 0x1234L, 4, 7, 1004);
        dt.createNode("/box", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, Long.MIN_VALUE, 5, 8, 1005);
        dt.setData("/app", "root2".getBytes(StandardCharsets.UTF_8), 1, 9, 1006);
        Map<Long, Integer> sessions = new HashMap<>();
        sessions.put(0x1234L, 30000);
        sessions.put(0x5678L, 4000);
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        BinaryOutputArchive oa = BinaryOutputArchive.getArchive(bos);
        SerializeUtils.serializeSnapshot(dt, oa, sessions);
        oa.writeString("BenWasHere", "signature");
        return bos.toByteArray();
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("emit")) {
            emit();
        } else if (args.length == 1 && args[0].equals("parse")) {
            parse();
        } else {
            System.err.println("usage: ZabWireCheck emit|parse");
            System.exit(2);
        }
    }
}
