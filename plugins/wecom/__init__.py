"""企业微信 (WeCom) group robots: notify a group chat through its robot's webhook key.
The plugin wiring (configuration, chosen events) comes with the plugin manager; this
package holds the protocol client, :mod:`plugins.wecom.client`."""
