from sqlmodel import select

from matchmaker.services import changes, whitelist
from models import ChangeCounter, Provider, ProviderStatus, Solution
from tests.conftest import credit_code


def _provider_with_solutions(db, count: int) -> Provider:
    provider = Provider(
        name="服务商",
        credit_code=credit_code(900),
        contact_name="张",
        phone="13800138000",
        email="p@example.com",
        domains=["software"],
        status=ProviderStatus.approved,
    )
    db.add(provider)
    db.flush()
    for n in range(count):
        db.add(
            Solution(
                provider_id=provider.id,
                title=f"方案{n}",
                description="说明" * 10,
                domain="software",
                industries=["general"],
                sizes=["small"],
                modules=["模块"],
                status="published",
            )
        )
    db.commit()
    return provider


def test_stamps_grow_with_each_change_and_cover_the_right_rows(db):
    provider = _provider_with_solutions(db, 3)
    ids = list(db.exec(select(Solution.id).order_by(Solution.id)))
    changes.mark_solutions(db, ids[:1])
    db.commit()
    first = db.get(ChangeCounter, 1).value
    whitelist.decide(db, provider.id, "suspend", None, "整改期间暂停")
    db.expire_all()
    stamps = {s.id: s.change_seq for s in db.exec(select(Solution))}
    assert db.get(ChangeCounter, 1).value == first + 1
    assert set(stamps.values()) == {first + 1}  # the whitelist change re-stamped all three


def test_a_failed_transaction_leaves_no_stamp(db):
    _provider_with_solutions(db, 1)
    before = db.get(ChangeCounter, 1).value
    changes.mark_solutions(db, list(db.exec(select(Solution.id))))
    db.rollback()
    db.expire_all()
    assert db.get(ChangeCounter, 1).value == before
    assert db.exec(select(Solution.change_seq)).one() == 0
