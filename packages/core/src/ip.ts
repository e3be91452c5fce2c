// Core's IP codec is @svcrules/netaddr's (Go's ParseIPSloppy and net.IP.String()); core files import it from here.
export * from '@svcrules/netaddr';
