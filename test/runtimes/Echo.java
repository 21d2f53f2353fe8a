import java.io.*;
import java.net.*;
import java.util.concurrent.atomic.AtomicInteger;

/** A JVM with a ServerSocket, a server thread, a ticking thread and a client
 * in main: each step sends k and must read k+1; the ticker's counter must
 * keep moving. Anything else is CORRUPT. Prints "J k". Usage: java Echo N */
public class Echo {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 60;
    ServerSocket server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
    AtomicInteger ticks = new AtomicInteger();
    Thread ticker = new Thread(() -> {
      while (true) { ticks.incrementAndGet(); try { Thread.sleep(10); } catch (InterruptedException e) { return; } }
    });
    ticker.setDaemon(true);
    ticker.start();
    Thread t = new Thread(() -> {
      try (Socket s = server.accept();
           BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream()));
           PrintWriter out = new PrintWriter(s.getOutputStream(), true)) {
        String line;
        while ((line = in.readLine()) != null) out.println(Integer.parseInt(line) + 1);
      } catch (IOException e) { System.out.println("CORRUPT server " + e); System.exit(3); }
    });
    t.setDaemon(true);
    t.start();
    try (Socket c = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
         BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream()));
         PrintWriter out = new PrintWriter(c.getOutputStream(), true)) {
      int lastTicks = 0;
      for (int k = 1; k <= n; k++) {
        out.println(k);
        String line = in.readLine();
        if (line == null || Integer.parseInt(line) != k + 1) { System.out.println("CORRUPT " + line + " for " + k); System.exit(3); }
        Thread.sleep(50);
        // the ticker must move on; on a loaded machine (or right after a
        // restart, with every JVM thread waking) give it up to 2 s to run
        int now = ticks.get();
        for (int waited = 0; now <= lastTicks && waited < 2000; waited += 10) { Thread.sleep(10); now = ticks.get(); }
        if (now <= lastTicks) { System.out.println("CORRUPT the ticker stopped at " + now); System.exit(3); }
        lastTicks = now;
        System.out.println("J " + k);
      }
    }
    System.out.println("DONE " + n);
    System.exit(0);
  }
}
