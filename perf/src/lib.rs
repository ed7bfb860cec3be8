//! perfdhcp-compatible DHCP load generator
