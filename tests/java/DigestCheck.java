// The txn digest as Apache ZooKeeper computes it, for tests/digest_java.rs.
//
// Reads txn log entries (TxnHeader + txn, hex, one per line) from stdin, applies each
// to a fresh org.apache.zookeeper.server.DataTree with processTxn, and prints the tree
// digest first for the fresh tree and then after each txn ("tree <digest>"). A line
// "node <path>" prints that node's own digest ("node <path> <digest>", from
// DigestCalculator, which is package-private: hence this package).
package org.apache.zookeeper.server;

import java.io.BufferedReader;
import java.io.InputStreamReader;

public class DigestCheck {
    public static void main(String[] args) throws Exception {
        DataTree dt = new DataTree();
        DigestCalculator calc = new DigestCalculator();
        System.out.println("tree " + dt.getTreeDigest());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.startsWith("node ")) {
                String path = line.substring(5);
                DataNode n = dt.getNode(path);
                long d = n == null ? 0 : calc.calculateDigest(path, n.getData(), n.stat);
                System.out.println("node " + path + " " + d);
                continue;
            }
            byte[] b = new byte[line.length() / 2];
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) Integer.parseInt(line.substring(2 * i, 2 * i + 2), 16);
            }
            TxnLogEntry e = org.apache.zookeeper.server.util.SerializeUtils.deserializeTxn(b);
            dt.processTxn(e.getHeader(), e.getTxn());
            System.out.println("tree " + dt.getTreeDigest());
        }
    }
}
