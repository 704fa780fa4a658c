/// Golden screens for `UIRenderTests`, from `UIFixtures.rows` (trailing blanks trimmed; the rows and key
/// bar the renderer draws, as `tmux capture-pane` would show them).
enum UIGoldenScreens {
    static let table80x24 = """
    nettop  testhost  backend tracepoint  every 1s                          22:13:20
    TX 12.0 MiB/s  RX 1.0 MiB/s  conns 7  tcp 5 udp 2  in 3 out 4 local 0  closed 1
    lost events 3  map-full drops 5  map 42/65536 (0.1%)  conntrack on  poll 1.3 ms
    sort rate, largest first  group none  filter none                    8 of 8 rows
        PID COMMAND      REMOTE                   TX/s      RX/s      SENT      RECV
       4242 firefox      [2001:db8:85a…]:443  11.8 MiB   1.0 MiB   5.0 GiB 117.7 MiB
       1234 curl         93.184.216.34:443   244.1 KiB   1.0 KiB 976.6 KiB   2.0 KiB
         77 dnsmasq      [fd00::1:2]:40000       512 B      64 B     512 B      64 B
        900 server       127.0.0.1:50000          10 B      20 B      10 B      20 B
      31337 日本語       203.0.113.9:52000         0 B       0 B   4.0 KiB   8.0 KiB
        666 \\x1b[2Jevil  198.51.100.7:6667         0 B       0 B      42 B      42 B
       4321 wget         S>1.1.1.1:443             0 B       0 B     300 B   4.9 KiB
         55 chronyd      *:*                       0 B       0 B       0 B       0 B










    h Help / Find f Filter n Netns g Group <> Sort Spc Pause Ent Detail q Quit
    """

    static let table200x50 = """
    nettop  testhost  backend tracepoint  every 1s                                                                                                                                                  22:13:20
    TX 12.0 MiB/s  RX 1.0 MiB/s  conns 7  tcp 5 udp 2  in 3 out 4 local 0  closed 1
    lost events 3  map-full drops 5  map 42/65536 (0.1%)  conntrack on  poll 1.3 ms
    sort rate, largest first  group none  filter none                                                                                                                                            8 of 8 rows
        PID COMMAND         PROTO DIR   LOCAL                              REMOTE                                          NETNS                 TX/s      RX/s      SENT      RECV RETRANS AGE/STATE
       4242 firefox         tcp   out   [2001:db8::10]:55555               [2001:db8:85a3:8d3:1319:8a2e:370:7348]:443      4026531840        11.8 MiB   1.0 MiB   5.0 GiB 117.7 MiB      12 2d00h ESTAB
       1234 curl            tcp   out   10.0.0.1:43210                     93.184.216.34:443                               4026531840       244.1 KiB   1.0 KiB 976.6 KiB   2.0 KiB       3 1m05s ESTAB
         77 dnsmasq         udp   in    [fd00::53]:53                      [fd00::1:2]:40000                               blue                 512 B      64 B     512 B      64 B       0 3h00m
        900 server          tcp   local 127.0.0.1:8080                     127.0.0.1:50000                                 4026531840            10 B      20 B      10 B      20 B       0 0s closed
      31337 日本語          tcp   in    10.0.0.1:22                        203.0.113.9:52000                               4026531840             0 B       0 B   4.0 KiB   8.0 KiB       0 10m00s ESTAB
        666 \\x1b[2Jevil     tcp   out   10.0.0.1:6666                      198.51.100.7:6667                               4026531840             0 B       0 B      42 B      42 B       0 30s ESTAB
       4321 wget            tcp   out   172.17.0.2:51000                   S>1.1.1.1:443                                   4026531840             0 B       0 B     300 B   4.9 KiB       0 10s ESTAB
         55 chronyd         udp   in    0.0.0.0:123                        *:*                                             4026531840             0 B       0 B       0 B       0 B       0 5s




































    h Help / Find f Filter n Netns g Group <> Sort I Invert Spc Pause Ent Detail b Bits q Quit
    """

    static let groupedByProcess80x24 = """
    nettop  testhost  backend tracepoint  every 1s                          22:13:20
    TX 12.0 MiB/s  RX 1.0 MiB/s  conns 8  tcp 6 udp 2  in 3 out 5 local 0  closed 1
    lost events 3  map-full drops 5  map 42/65536 (0.1%)  conntrack on  poll 1.3 ms
    sort rate, largest first  group process  filter none            8 groups, 9 rows
        PID COMMAND         CONNS NETNS           TX/s      RX/s      SENT      RECV
       4242 firefox             1 4026531840  11.8 MiB   1.0 MiB   5.0 GiB 117.7 MiB
       1234 curl                2 4026531840 244.2 KiB   2.0 KiB 976.6 KiB   3.0 KiB
         77 dnsmasq             1 blue           512 B      64 B     512 B      64 B
        900 server              1 4026531840      10 B      20 B      10 B      20 B
         55 chronyd             1 4026531840       0 B       0 B       0 B       0 B
        666 \\x1b[2Jevil         1 4026531840       0 B       0 B      42 B      42 B
       4321 wget                1 4026531840       0 B       0 B     300 B   4.9 KiB
      31337 日本語              1 4026531840       0 B       0 B   4.0 KiB   8.0 KiB










    h Help / Find f Filter n Netns g Group <> Sort Spc Pause Ent Detail q Quit
    """

    static let detail80x24 = """
    nettop  testhost  backend tracepoint  every 1s                          22:13:20
    TX 12.0 MiB/s  RX 1.0 MiB/s  conns 7  tcp 5 udp 2  in 3 out 4 local 0  closed 1
    lost events 3  map-full drops 5  map 42/65536 (0.1%)  conntrack on  poll 1.3 ms
    sort rate, largest first  group none  filter none                    8 of 8 rows
     Connection: tcp v4, outgoing
     Process      1234 curl
     Local        10.0.0.1:43210
     Remote       93.184.216.34:443
     NAT          none
     Netns        inode 4026531840 (no ip netns name)
     State        ESTAB
     First seen   2023-11-14 22:12:15 (1m05s ago)
     Last active  2023-11-14 22:12:15 (1m05s ago)
     Sent         1,000,000 bytes (976.6 KiB); 250,000 in the last 1s: 244.1 KiB/s
     Received     2,048 bytes (2.0 KiB); 1,024 in the last 1s: 1.0 KiB/s
     Retransmits  3 (1 in the last 1s)

     TX/s                                                       █ peak 244.1 KiB/s
     RX/s                                                         █ peak 1.0 KiB/s
     Rates of the last 1 tick (up to 60), newest on the right



    Esc Back Space Pause +- Interval b Bits q Quit
    """

}
