/// The compiled BPF objects, embedded by the BPFBuild plugin (one static base64 string per bpf/*.bpf.c).
enum BPFObjects {}
