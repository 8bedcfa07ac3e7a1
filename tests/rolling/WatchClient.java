// A ZooKeeper Java client (Debian's 3.8 jar) holding two data watches and a child watch
// through the rolling replacement (tests/rolling/README.md). Unlike kazoo, the Java
// client sends setWatches when it reconnects, so these watches are never armed again by
// hand after a reconnect: each move to another member must carry them (or fire them).
//
//   java -cp zookeeper.jar:... WatchClient HOSTS OUT_FILE NAME
//
// Writes one line per fact to OUT_FILE: "ARM <path> <zxid>" (armed again after an event,
// at the zxid read back), "STATE <state>", "STALE <path> <armed> <seen> <seconds>" (a
// plain read saw a newer zxid and no event came for 3 s), "ERROR <text>". It holds one
// ephemeral, /rolling/eph/NAME. It runs until its stdin closes, then closes its session.
import java.io.FileWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public class WatchClient {
    static final String DATA = "/rolling/shared";
    static final String KIDS = "/rolling/kids";
    // Changed once per step by the driver: this watch is armed nearly all the time, so
    // every reconnect carries it in setWatches.
    static final String SLOW = "/rolling/slow";
    static final long STALE_MS = 3_000; // as rolling.py's MISSING_EVENT_AFTER_S

    static PrintWriter out;

    static synchronized void say(String line) {
        out.println(System.currentTimeMillis() / 1000.0 + " " + line);
        out.flush();
    }

    public static void main(String[] args) throws Exception {
        out = new PrintWriter(new FileWriter(args[1], true));
        ConcurrentLinkedQueue<String> fired = new ConcurrentLinkedQueue<>();
        Watcher session = e -> say("STATE " + e.getState());
        Watcher watch = e -> {
            if (e.getType() != Watcher.Event.EventType.None) {
                fired.add(e.getPath());
            }
        };
        ZooKeeper zk = new ZooKeeper(args[0], 10_000, session);
        Map<String, Long> armed = new HashMap<>();
        Map<String, Long> staleSince = new HashMap<>();
        // stdin closing is the signal to stop.
        Thread stdin = new Thread(() -> {
            try {
                while (System.in.read() >= 0) { }
            } catch (IOException e) { }
        });
        stdin.setDaemon(true);
        stdin.start();
        boolean ephemeral = false;
        while (stdin.isAlive()) {
            try {
                if (!ephemeral) {
                    zk.create("/rolling/eph/" + args[2], new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE,
                            CreateMode.EPHEMERAL);
                    ephemeral = true;
                    say("SESSION " + Long.toHexString(zk.getSessionId()));
                }
                String p;
                while ((p = fired.poll()) != null) {
                    armed.remove(p);
                    staleSince.remove(p);
                }
                for (String path : new String[] {DATA, KIDS, SLOW}) {
                    Stat st = new Stat();
                    if (!armed.containsKey(path)) {
                        if (!path.equals(KIDS)) {
                            zk.getData(path, watch, st);
                            armed.put(path, st.getMzxid());
                        } else {
                            zk.getChildren(path, watch, st);
                            armed.put(path, st.getPzxid());
                        }
                        say("ARM " + path + " " + Long.toHexString(armed.get(path)));
                        continue;
                    }
                    // A plain read: the member's current state, no watch.
                    long seen;
                    if (!path.equals(KIDS)) {
                        zk.getData(path, false, st);
                        seen = st.getMzxid();
                    } else {
                        zk.getChildren(path, false, st);
                        seen = st.getPzxid();
                    }
                    if (seen > armed.get(path) && !fired.contains(path)) {
                        long now = System.currentTimeMillis();
                        long since = staleSince.computeIfAbsent(path, k -> now);
                        if (now - since > STALE_MS) {
                            say("STALE " + path + " " + Long.toHexString(armed.get(path)) + " "
                                    + Long.toHexString(seen) + " " + (now - since) / 1000.0);
                            armed.remove(path);
                            staleSince.remove(path);
                        }
                    } else {
                        staleSince.remove(path);
                    }
                }
            } catch (KeeperException.ConnectionLossException e) {
                // Its server went away: the client reconnects and sends setWatches.
            } catch (KeeperException e) {
                say("ERROR " + e);
                if (e.code() == KeeperException.Code.SESSIONEXPIRED) {
                    break;
                }
            }
            Thread.sleep(100);
        }
        zk.close();
        say("CLOSED");
        out.close();
    }
}
