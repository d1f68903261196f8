"""钉钉 (DingTalk) custom robots: notify a group through its robot's access token, signed with
the robot's secret. The plugin wiring comes with the plugin manager; this package holds the
protocol client, :mod:`plugins.dingtalk.client`."""
