from tests.conftest import CLIENT, TEAM


def test_contact_lists_only_open_folders(firm):
    alice = firm.as_user("alice")
    assert alice.names("/") == {"acme"}
    assert alice.names("/acme/") == {TEAM, CLIENT}
    sam = firm.as_user("sam")
    assert {"acme", "beta"} <= sam.names("/")
