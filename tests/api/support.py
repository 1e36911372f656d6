"""Arranging API tests: organisations, an admin, keys for them, and a published catalogue."""

from dataclasses import dataclass

from sqlmodel import Session, select

from matchmaker.services import accounts, api_keys, providers
from models import Enterprise, Provider, Role, SuccessCase, User
from models.schemas import AccountCreate, EnterpriseRegistration
from tests.conftest import PASSWORD, credit_code
from tests.matching.test_need_matching import IOT, MES, NEED_TEXT, SECURITY, approved_provider, publish

__all__ = ["NEED_TEXT", "Org", "World", "bearer", "make_admin", "make_enterprise", "world"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_admin(db: Session, email: str = "keys-admin@example.com") -> User:
    existing = db.exec(select(User).where(User.email == email)).first()
    if existing is not None:
        return existing
    return accounts.create_admin(db, AccountCreate(email=email, password=PASSWORD, display_name="密钥管理员"))


def make_enterprise(db: Session, serial: int, industry: str = "furniture") -> Enterprise:
    user = accounts.register_enterprise(
        db,
        EnterpriseRegistration(
            name=f"接口测试企业{serial}",
            credit_code=credit_code(serial),
            industry=industry,
            employees=120,
            revenue=3500,
            street="坪山街道",
            contact_name="王厂长",
            phone="13800138000",
            email=f"api{serial}@example.com",
            password=PASSWORD,
        ),
    )
    return db.exec(select(Enterprise).where(Enterprise.user_id == user.id)).one()


@dataclass
class Org:
    id: int
    token: str


@dataclass
class World:
    admin: User
    ent_a: Org
    ent_b: Org
    vendor_iot: Org  # approved provider of the IoT and security solutions
    vendor_mes: Org  # approved provider of the MES solution
    admin_token: str
    solutions: dict  # name -> Solution


def key(db: Session, admin: User, role: Role, **owner: int) -> str:
    return api_keys.issue(db, admin.id, role, f"测试{role}", "测试签发", **owner).token


def world(db: Session) -> World:
    """Two enterprises, two approved providers with three published solutions, a key for each."""
    admin = make_admin(db)
    iot_vendor = approved_provider(db, 901, ["data_collection", "security"])
    mes_vendor = approved_provider(db, 902, ["software"])
    solutions = {
        "iot": publish(db, iot_vendor, IOT),
        "security": publish(db, iot_vendor, SECURITY),
        "mes": publish(db, mes_vendor, MES),
    }
    db.add(
        SuccessCase(provider_id=iot_vendor.id, title="某家具厂设备联网", client="坪山某家具企业", industry="furniture")
    )
    db.commit()
    a, b = make_enterprise(db, 11), make_enterprise(db, 12, industry="auto_parts")
    return World(
        admin=admin,
        ent_a=Org(a.id, key(db, admin, Role.enterprise, enterprise_id=a.id)),
        ent_b=Org(b.id, key(db, admin, Role.enterprise, enterprise_id=b.id)),
        vendor_iot=Org(iot_vendor.id, key(db, admin, Role.provider, provider_id=iot_vendor.id)),
        vendor_mes=Org(mes_vendor.id, key(db, admin, Role.provider, provider_id=mes_vendor.id)),
        admin_token=key(db, admin, Role.admin),
        solutions=solutions,
    )


def draft_provider_solution(db: Session) -> int:
    """A published solution of a provider that is not approved: never visible through the API."""
    provider = Provider(
        name="未入库服务商",
        credit_code=credit_code(950),
        contact_name="赵",
        phone="13900139000",
        email="p950@example.com",
        domains=["data_collection"],
    )
    db.add(provider)
    db.commit()
    return providers.create_solution(db, provider.id, IOT, publish=True).id
