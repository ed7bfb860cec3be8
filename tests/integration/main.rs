//! End-to-end tests: the real `corelease` binary on real sockets, inside network namespaces the
//! tests create, driven by ISC perfdhcp and by real DHCP clients (dhclient, busybox udhcpc).
//! One binary, run serially (`support::serial`), so servers never contend with each other.

mod support;

mod cli;
mod clients;
mod control;
mod control6;
mod crash;
mod dhcp4o6;
mod dhcp6;
mod expired6;
mod hooks;
mod hooks6;
mod hostile;
mod hostile6;
mod offer_lifetime;
mod perfdhcp;
mod reservations;
mod steering;
