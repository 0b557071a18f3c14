/// The README's complete example, in canonical form: the tests check that it decodes and that
/// encoding gives it back byte for byte, so the documentation cannot drift from the code.
enum StateFileExample {
    static let wg0PrivateKey = "KO8LsxM4DRZKyawPNdybtVLHY0NgAihM9wtNeTsd80Q="
    static let text = """
    {
      "version": 1,
      "interfaces": [
        {
          "name": "wg0",
          "private_key": "KO8LsxM4DRZKyawPNdybtVLHY0NgAihM9wtNeTsd80Q=",
          "listen_port": 51820,
          "fwmark": 0,
          "mtu": 1420,
          "addresses": [
            "192.0.2.1/24",
            "fd00::1/64"
          ],
          "cpus": [
            0,
            1
          ],
          "routes": true,
          "peers": [
            {
              "public_key": "WwrB3c0OmrP3FrcUfzIXhkimvoTnAIIw0aadG9urUks=",
              "preshared_key": "1NfIPImV8BpOqkmmHmWXbuTglLTPFUHNMcQYQHTdbWc=",
              "endpoint": "198.51.100.7:51820",
              "allowed_ips": [
                "10.0.0.2/32",
                "fd00::2/128"
              ],
              "persistent_keepalive": 25
            },
            {
              "public_key": "tzLXdNOfCCkoAIEW8LYk10JNQ9Qx059wW3vOIybrG9k=",
              "endpoint": "vpn.example.net:51820",
              "allowed_ips": [
                "10.0.1.0/24"
              ]
            }
          ]
        },
        {
          "name": "wg1",
          "listen_port": 51821,
          "fwmark": 51821,
          "mtu": 1280,
          "addresses": [],
          "routes": false,
          "peers": [
            {
              "public_key": "54+JDWXuIAaSibsB6eU8ORP/2PrYbUii2zgt4rdbXlE=",
              "endpoint": "[2001:db8::7]:51820",
              "allowed_ips": [
                "0.0.0.0/0",
                "::/0"
              ]
            }
          ]
        }
      ]
    }

    """
}
