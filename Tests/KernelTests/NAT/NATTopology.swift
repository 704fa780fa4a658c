import Foundation
import Glibc

/// Three namespaces in a row, for the NAT tests: a client A, a router R, a server B. veth A–R and R–B,
/// forwarding on in R, default routes (IPv4 and IPv6) in A and B through R. NAT rules are loaded into R
/// only, so every translation lives in another namespace's conntrack table than the sockets' own.
/// Everything belongs to the test's sandbox, which removes it whatever happens.
struct NATTopology {
    let client: Namespace
    let router: Namespace
    let server: Namespace
    let clientLink: VethLink   // a = client, b = router
    let serverLink: VethLink   // a = router, b = server

    /// Addresses no interface has: the virtual service the client connects to.
    static let vip4 = "198.18.231.1"
    static let vip6 = "fd00:198:18::1"

    var clientV4: String { clientLink.v4A }
    var clientV6: String { clientLink.v6A }
    var serverV4: String { serverLink.v4B }
    var serverV6: String { serverLink.v6B }
    /// The router's addresses on the server side: what the server sees behind a masquerade.
    var routerServerSideV4: String { serverLink.v4A }
    var routerServerSideV6: String { serverLink.v6A }

    private let sandbox: NetnsSandbox

    init(sandbox: NetnsSandbox) throws {
        self.sandbox = sandbox
        client = try sandbox.makeNamespace()
        router = try sandbox.makeNamespace()
        server = try sandbox.makeNamespace()
        clientLink = try sandbox.link(client, router)
        serverLink = try sandbox.link(router, server)
        try mustRun(ipTool, ["netns", "exec", router.name, "sysctl", "-qw", "net.ipv4.ip_forward=1",
                             "net.ipv6.conf.all.forwarding=1"])
        try mustRun(ipTool, ["-n", client.name, "route", "add", "default", "via", clientLink.v4B])
        try mustRun(ipTool, ["-n", client.name, "-6", "route", "add", "default", "via", clientLink.v6B])
        try mustRun(ipTool, ["-n", server.name, "route", "add", "default", "via", serverLink.v4A])
        try mustRun(ipTool, ["-n", server.name, "-6", "route", "add", "default", "via", serverLink.v6A])
    }

    /// In R: `<family> daddr VIP <proto> dport VPORT dnat to SERVER:PORT`.
    func dnat(proto: String, v6: Bool, vport: Int, serverPort: Int) throws {
        let (table, match, target) = v6
            ? ("ip6", "ip6 daddr \(NATTopology.vip6)", "[\(serverV6)]:\(serverPort)")
            : ("ip", "ip daddr \(NATTopology.vip4)", "\(serverV4):\(serverPort)")
        try sandbox.nft(in: router, """
            table \(table) ntt_dnat {
                chain prerouting {
                    type nat hook prerouting priority dstnat; policy accept;
                    \(match) \(proto) dport \(vport) dnat to \(target)
                }
            }
            """)
    }

    /// In R: masquerade everything leaving towards the server (IPv4 and IPv6).
    func masqueradeTowardsServer() throws {
        for table in ["ip", "ip6"] {
            try sandbox.nft(in: router, """
                table \(table) ntt_snat {
                    chain postrouting {
                        type nat hook postrouting priority srcnat; policy accept;
                        oifname "\(serverLink.ifA)" masquerade
                    }
                }
                """)
        }
    }

    /// In R: a rule that uses connection tracking but translates nothing (so R's table fills with plain
    /// flows, which must not produce a translation).
    func trackWithoutNAT() throws {
        try sandbox.nft(in: router, """
            table inet ntt_track {
                chain forward {
                    type filter hook forward priority filter; policy accept;
                    ct state established,related,new counter
                }
            }
            """)
    }

    /// Runs a sysctl in R (e.g. short conntrack timeouts).
    func routerSysctl(_ setting: String) throws {
        try mustRun(ipTool, ["netns", "exec", router.name, "sysctl", "-qw", setting])
    }
}
