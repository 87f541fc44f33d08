"""Korean caller scripts: templates with slots, the slot fillers, and their split.

A call's words come from one :class:`Template` of its category: two to four caller lines
with slots (``{address}``, ``{floor}``, ``{who}`` …) that :func:`render_template` fills
with random values. Every filled piece is a :class:`Phrase` with two forms: ``text`` as a
transcriber writes it (digits allowed: "3층", "101동 1203호") and ``spoken`` as
espeak-ng must read it (numbers as Hangul words: "삼 층", "백일 동 천이백삼 호"). A
particle written after a slot, ``{place}[이에요]``, takes the form the slot's last syllable
calls for (식당이에요, 카페예요).

Templates are the unit of the train/validation/test split (:func:`template_splits`), so
sentences never leak from one split into another. Normal calls are everyday talk, non-urgent
questions to the line, wrong numbers and conversations that mention frightening things in
the past tense; prank calls use the emergency template they falsely claim, decorated by
:func:`prank_markers`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Callable, Mapping

import numpy as np

from synth import framings
from synth.hangul import digits_korean, native_korean, particle_after, sino_korean
from transforms.errors import ConfigError
from transforms.spec import CATEGORIES, EMERGENCY_CATEGORIES, NORMAL_CATEGORIES, SPLITS

#: The police line takes these categories; every other category goes to 119.
POLICE_CATEGORIES = ("sexual_assault", "robbery", "theft", "violence")
#: Share of a category's templates that go to validation and to test (the rest: train).
VALIDATION_SHARE = 0.15
TEST_SHARE = 0.15
#: Fewest templates a category may have: enough for ≥ 1 validation, ≥ 2 test, ≥ 7 train.
MIN_TEMPLATES = 10


@dataclasses.dataclass(frozen=True)
class Phrase:
    """A piece of a call's words: ``text`` as transcribed, ``spoken`` as espeak-ng reads it."""

    text: str
    spoken: str


@dataclasses.dataclass(frozen=True)
class Template:
    """One call script: caller ``lines`` with ``{slot}`` and ``{slot}[particle]`` markers."""

    template_id: str
    category: str
    lines: tuple[str, ...]
    prank_only: bool = False


def line_for(category: str) -> str:
    """The emergency line a call of ``category`` goes to: "112" (police) or "119"."""
    if category not in EMERGENCY_CATEGORIES:
        raise ConfigError(f"category={category!r} must be one of {EMERGENCY_CATEGORIES}")
    return "112" if category in POLICE_CATEGORIES else "119"


# --- slot fillers -------------------------------------------------------------------------

def _same(text: str) -> Phrase:
    return Phrase(text, text)


def _pick(rng: np.random.Generator, options: tuple) -> object:
    return options[int(rng.integers(len(options)))]


_CITIES = (
    ("서울시", ("강남구", "마포구", "노원구", "송파구", "은평구", "관악구", "성북구")),
    ("부산시", ("해운대구", "사하구", "동래구", "수영구")),
    ("대구시", ("수성구", "달서구", "북구")),
    ("인천시", ("남동구", "부평구", "연수구")),
    ("광주시", ("북구", "광산구")),
    ("대전시", ("유성구", "서구")),
    ("수원시", ("영통구", "팔달구")),
)
_DONGS = ("역삼동", "신림동", "상계동", "연산동", "중앙동", "월곡동", "도화동", "봉명동",
          "만수동", "화정동", "우동", "신촌동", "효자동", "송정동")
_APARTMENTS = ("한빛", "푸른숲", "새솔", "하늘마을", "은하수", "햇살", "동산", "미래",
               "청솔", "금강", "샛별", "무지개")
_LANDMARKS = ("편의점 앞", "버스 정류장", "초등학교 정문", "시장 입구", "공원 놀이터",
              "주민센터 앞", "교회 앞 사거리", "하천 산책로", "공영 주차장", "우체국 옆",
              "농협 앞", "대학교 후문", "육교 밑", "주유소 건너편")
_PLACES = ("식당", "피시방", "노래방", "학원", "빌라", "상가", "모텔", "마트", "사무실",
           "찜질방", "헬스장", "카페", "호프집", "병원")
_ROOMS = ("안방", "거실", "부엌", "작은방", "화장실", "베란다", "현관 쪽")
_WHO = ("제 남편", "제 아내", "제 친구", "우리 아들", "우리 딸", "제 동생", "우리 엄마",
        "우리 아빠", "같이 일하는 동료", "제 여자친구")
_ELDERS = ("우리 할머니", "우리 할아버지", "우리 아버지", "우리 어머니", "옆집 할머니",
           "시어머니", "장인어른")
_SUSPECTS = ("검은 모자 쓴 남자", "회색 후드티 입은 남자", "파란 점퍼 입은 키 큰 남자",
             "마스크 쓴 젊은 남자", "빨간 운동복 입은 남자", "안경 쓰고 배낭 멘 사람",
             "흰 티셔츠에 청바지 입은 남자", "검은 패딩 입은 중년 남자")
_CHILDREN = ("노란 우비 입은 남자아이", "분홍색 원피스 입은 여자아이",
             "파란 모자 쓴 남자아이", "줄무늬 티셔츠 입은 여자아이",
             "초록색 가방 멘 남자아이")
_WEAPONS = ("칼", "흉기", "야구방망이", "각목", "망치", "깨진 병", "쇠파이프")
_DIRECTIONS = ("큰길 쪽", "지하철역 쪽", "시장 쪽", "골목 안쪽", "버스 터미널 쪽", "공원 쪽",
               "오른쪽 골목", "대학교 쪽")
_GOODS = ("화장품", "양주", "건전지", "이어폰", "면도날", "과자 상자")
_VEHICLES = ("흰색 승합차", "검은색 지프차", "회색 승용차", "파란 트럭", "검은 오토바이",
             "은색 택시")
_STATIONS = ("강남역", "신촌역", "서면역", "동대구역", "부평역", "수원역", "잠실역",
             "노량진역", "사당역", "범계역")
_MOUNTAINS = ("북한산", "관악산", "도봉산", "금정산", "팔공산", "무등산", "계룡산", "수락산",
              "청계산")
_ROADS = ("경부고속도로 서울 방향", "서해안고속도로 목포 방향", "영동고속도로 강릉 방향",
          "중부고속도로 하남 방향", "남해고속도로 부산 방향")
_BEACHES = ("해운대", "광안리", "경포대", "을왕리", "대천", "속초")
_RIVERS = ("한강", "낙동강", "금강", "영산강", "탄천", "중랑천")
_BRIDGES = ("한강대교", "마포대교", "광안대교", "성수대교", "원효대교")
_INJURIES = ("머리에서 피가 많이 나요.", "다리가 부러진 것 같아요.", "숨을 잘 못 쉬어요.",
             "의식이 없어요.", "팔이 이상하게 꺾였어요.", "말을 못 하고 신음만 해요.",
             "눈을 못 떠요.")
_DAYS = ("어제", "그저께", "지난 주말", "오늘 아침", "지난 금요일")
_LOST = ("지갑", "우산", "휴대폰", "카드지갑", "가방", "안경", "차 열쇠")
_SHOPS = ("중국집", "치킨집", "세탁소", "미용실", "꽃집", "약국", "피자집")
_FOODS = ("김치찌개", "된장찌개", "짜장면", "떡볶이", "삼겹살", "비빔밥", "치킨")
_WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")
_PARKS = ("한강공원", "올림픽공원", "시민공원", "호수공원", "숲속 공원")
_AMOUNTS_MAN = (30, 50, 80, 100, 200, 300, 500, 1000, 1200)
#: Parts of the day and the clock hours they take.
_DAYPARTS = (("오전", 6, 11), ("오후", 1, 5), ("저녁", 6, 8), ("밤", 9, 11), ("새벽", 1, 5))


def _number(rng: np.random.Generator, low: int, high: int, unit: str) -> Phrase:
    """A Sino-Korean number in [low, high] with a counter: "12층" / "십이 층"."""
    value = int(rng.integers(low, high + 1))
    return Phrase(f"{value}{unit}", f"{sino_korean(value)} {unit}")


def _counted(rng: np.random.Generator, low: int, high: int, unit: str) -> Phrase:
    """A native-Korean count in [low, high] with a counter: "3명" / "세 명"."""
    value = int(rng.integers(low, high + 1))
    return Phrase(f"{value}{unit}", f"{native_korean(value, counter=True)} {unit}")


def _street_address(rng: np.random.Generator) -> Phrase:
    city, districts = _pick(rng, _CITIES)
    head = f"{city} {_pick(rng, districts)} {_pick(rng, _DONGS)}"
    number = _number(rng, 1, 999, "번지")
    return Phrase(f"{head} {number.text}", f"{head} {number.spoken}")


def _complex(rng: np.random.Generator) -> Phrase:
    """An apartment building: "역삼동 새솔아파트 108동"."""
    head = f"{_pick(rng, _DONGS)} {_pick(rng, _APARTMENTS)}아파트"
    block = _number(rng, 101, 115, "동")
    return Phrase(f"{head} {block.text}", f"{head} {block.spoken}")


def _apartment(rng: np.random.Generator) -> Phrase:
    """A flat: "역삼동 새솔아파트 108동 1203호"."""
    building = _complex(rng)
    home = int(rng.integers(1, 26)) * 100 + int(rng.integers(1, 5))
    return Phrase(f"{building.text} {home}호", f"{building.spoken} {sino_korean(home)} 호")


def _address(rng: np.random.Generator) -> Phrase:
    return _apartment(rng) if rng.random() < 0.4 else _street_address(rng)


def _floor(rng: np.random.Generator) -> Phrase:
    if rng.random() < 0.15:
        level = _number(rng, 1, 4, "층")
        return Phrase(f"지하 {level.text}", f"지하 {level.spoken}")
    return _number(rng, 1, 25, "층")


def _landmark(rng: np.random.Generator) -> Phrase:
    if rng.random() < 0.25:
        station, exit_ = _pick(rng, _STATIONS), _number(rng, 1, 12, "번 출구")
        return Phrase(f"{station} {exit_.text}", f"{station} {exit_.spoken}")
    return _same(f"{_pick(rng, _DONGS)} {_pick(rng, _LANDMARKS)}")


def _time(rng: np.random.Generator) -> Phrase:
    part, first, last = _pick(rng, _DAYPARTS)
    hour = int(rng.integers(first, last + 1))
    minute = int(rng.choice((0, 10, 20, 30, 40, 50)))
    text, spoken = f"{part} {hour}시", f"{part} {native_korean(hour, counter=True)} 시"
    if minute:
        text, spoken = f"{text} {minute}분", f"{spoken} {sino_korean(minute)} 분"
    return Phrase(text, spoken)


def _phone(rng: np.random.Generator) -> Phrase:
    middle, last = (f"{int(rng.integers(10 ** 4)):04d}" for _ in range(2))
    return Phrase(f"010-{middle}-{last}",
                  f"공일공, {digits_korean(middle)}, {digits_korean(last)}")


def _amount(rng: np.random.Generator) -> Phrase:
    man = int(rng.choice(_AMOUNTS_MAN))
    return Phrase(f"{man}만 원", f"{sino_korean(man * 10_000)} 원")


def _highway(rng: np.random.Generator) -> Phrase:
    distance = _number(rng, 5, 380, "킬로미터 지점")
    road = _pick(rng, _ROADS)
    return Phrase(f"{road} {distance.text}", f"{road} {distance.spoken}")


def _bus(rng: np.random.Generator) -> Phrase:
    return _number(rng, 100, 9999, "번 버스")


def _kid_age(rng: np.random.Generator) -> Phrase:
    return _counted(rng, 2, 12, "살")


def _elder_age(rng: np.random.Generator) -> Phrase:
    return _counted(rng, 65, 95, "살")


def _adult_age(rng: np.random.Generator) -> Phrase:
    return _counted(rng, 20, 59, "살")


def _choice(options: tuple[str, ...]) -> Callable[[np.random.Generator], Phrase]:
    return lambda rng: _same(_pick(rng, options))


#: slot name -> filler(rng) -> Phrase
SLOTS: Mapping[str, Callable[[np.random.Generator], Phrase]] = {
    "address": _address,
    "apt": _apartment,
    "complex": _complex,
    "floor": _floor,
    "landmark": _landmark,
    "time": _time,
    "phone": _phone,
    "amount": _amount,
    "highway": _highway,
    "bus": _bus,
    "kid_age": _kid_age,
    "elder_age": _elder_age,
    "age": _adult_age,
    "minutes": lambda rng: _number(rng, 2, 40, "분"),
    "count": lambda rng: _counted(rng, 2, 6, "명"),
    "exit": lambda rng: _number(rng, 1, 12, "번 출구"),
    "dong": _choice(_DONGS),
    "place": _choice(_PLACES),
    "room": _choice(_ROOMS),
    "who": _choice(_WHO),
    "elder": _choice(_ELDERS),
    "suspect": _choice(_SUSPECTS),
    "child": _choice(_CHILDREN),
    "weapon": _choice(_WEAPONS),
    "direction": _choice(_DIRECTIONS),
    "goods": _choice(_GOODS),
    "vehicle": _choice(_VEHICLES),
    "station": _choice(_STATIONS),
    "mountain": _choice(_MOUNTAINS),
    "beach": _choice(_BEACHES),
    "river": _choice(_RIVERS),
    "bridge": _choice(_BRIDGES),
    "injury": _choice(_INJURIES),
    "day": _choice(_DAYS),
    "lost": _choice(_LOST),
    "shop": _choice(_SHOPS),
    "food": _choice(_FOODS),
    "weekday": _choice(_WEEKDAYS),
    "park": _choice(_PARKS),
}

# --- the scripts --------------------------------------------------------------------------

_SCRIPTS: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "sexual_assault": (
        ("저기요, 지금 어떤 남자가 계속 따라와요.", "{landmark}인데 자꾸 몸을 만지려고 해요.",
         "빨리 와 주세요, 너무 무서워요."),
        ("지하철에서 어떤 사람이 제 몸을 만졌어요.", "방금 {station}에서 내렸는데 아직 옆에 있어요.",
         "{suspect}[이에요]."),
        ("도와주세요, 누가 저를 골목으로 끌고 가려고 했어요.", "{address} 근처예요.",
         "{suspect}[이에요], 빨리요!"),
        ("작게 말할게요. 모르는 남자가 집에 들어왔어요.", "{apt}[이에요].",
         "지금 {room}에 숨어 있어요."),
        ("택시 기사가 이상한 데로 가면서 자꾸 제 다리를 만져요.", "지금 {dong} 쪽으로 가고 있어요.",
         "{vehicle}[이에요], 내려 달라고 해도 안 세워 줘요."),
        ("회식 끝나고 상사가 억지로 끌어안고 안 놔줘요.", "{place} 앞에서 못 가게 막고 있어요.",
         "경찰 좀 보내 주세요."),
        ("엘리베이터에서 어떤 남자가 갑자기 덮쳤어요.", "{complex} 엘리베이터 안이었어요.",
         "문이 열려서 겨우 도망쳤는데 계단에 아직 있어요."),
        ("제 딸이 학원 끝나고 오다가 이상한 사람한테 추행을 당했대요.", "{kid_age}밖에 안 된 애예요.",
         "지금 {landmark}에 있어요, 빨리 와 주세요."),
        ("{bus} 안인데요, 뒤에 선 사람이 계속 몸을 밀착해요.", "{landmark} 지나고 있어요.",
         "내리면 따라올 것 같아요."),
        ("술 취한 남자가 화장실까지 따라 들어왔어요.", "{place} 건물 {floor} 여자 화장실이에요.",
         "문 잠그고 있는데 계속 두드려요!"),
        ("공원에서 운동하는데 어떤 남자가 바지를 내리고 다가와요.", "{landmark} 근처예요.",
         "{suspect}[이고] 아직 여기 있어요."),
    ),
    "robbery": (
        ("강도예요! 칼 든 남자가 돈 내놓으라고 했어요.", "{address} {place} 카운터예요.",
         "방금 {direction}[으로] 도망갔어요."),
        ("편의점인데요, 복면 쓴 사람이 들어와서 돈을 다 털어 갔어요.", "{weapon} 들고 있었어요.",
         "{minutes} 전이에요, {landmark}[이에요]."),
        ("길에서 오토바이 탄 사람이 제 가방을 낚아채 갔어요.", "끌려가다가 넘어져서 무릎에서 피가 나요.",
         "{landmark}[이에요]."),
        ("집에 강도가 들어서 저희를 묶어 놓고 돈을 가져갔어요.", "겨우 풀고 전화하는 거예요.",
         "{apt}[이에요], 빨리요."),
        ("금은방인데 망치 든 남자가 진열장을 다 깼어요!", "지금 물건을 쓸어 담고 있어요.",
         "{dong} 시장 안 금은방이에요."),
        ("택시 기사인데 손님이 목에 칼을 대고 돈을 뺏어 갔어요.", "{vehicle} 타고 도망갔어요.",
         "지금 {landmark}에 차 세워 놨어요."),
        ("남자 세 명이 저를 둘러싸고 휴대폰이랑 지갑 내놓으래요.", "{landmark} 뒤 골목이에요.",
         "빨리 와 주세요, 때리려고 해요."),
        ("은행에서 돈 찾아 나오는데 누가 봉투를 뺏어 갔어요.", "{amount} 들어 있었어요.",
         "{suspect}[이고] {direction}[으로] 뛰어갔어요."),
        ("주유소인데 강도가 들었어요.", "직원이 {weapon}에 맞아서 다쳤어요.",
         "{address}[이에요], 구급차도 같이 보내 주세요."),
        ("가게 문 닫으려는데 남자가 밀고 들어와서 돈통을 들고 갔어요.", "저를 밀쳐서 넘어졌어요.",
         "{address} {place}[이에요]."),
        ("대리기사인데 손님이 칼을 보여 주면서 지갑 내놓으래요.", "지금 차 안이고 {landmark} 근처예요.",
         "몰래 전화하는 거예요."),
    ),
    "theft": (
        ("집에 와 보니까 현관문이 열려 있고 도둑이 들었어요.", "{room} 서랍이 다 열려 있어요.",
         "{apt}[이에요]."),
        ("방금 카페에서 누가 제 노트북을 들고 갔어요.", "{minutes} 전쯤이고 {suspect}[이었어요].",
         "{landmark} 근처 카페예요."),
        ("누가 제 차 유리를 깨고 안에 있던 가방을 훔쳐 갔어요.", "{address} 주차장이에요.",
         "블랙박스에 찍혔을 거예요."),
        ("지금 옆집 창문으로 누가 들어가는 걸 봤어요.", "옆집 사람들 여행 갔거든요.",
         "{address}[이에요], 아직 안에 있어요."),
        ("가게에서 손님이 물건을 몰래 가방에 넣고 나갔어요.", "{goods} 여러 개 가져갔어요.",
         "{direction}[으로] 가고 있어요."),
        ("자전거 보관대에서 누가 자물쇠를 자르고 자전거를 가져가요.", "지금 바로 눈앞에서요.",
         "{landmark}[이에요]."),
        ("지하철에서 소매치기를 당했어요.", "가방이 열려 있고 지갑이 없어졌어요.",
         "{station} {exit} 쪽이에요."),
        ("택배를 누가 자꾸 가져가는데 지금 또 들고 가고 있어요.", "{suspect}[이에요].",
         "{apt} 현관 앞이에요."),
        ("밤에 공사장에서 자재를 트럭에 싣는 사람들이 있어요.", "이상해서요, {count}[이에요].",
         "{address} 공사 현장이에요."),
        ("식당 금고에 있던 돈이 없어졌어요.", "뒷문 자물쇠가 부서져 있어요.",
         "{address} {place}[이에요]."),
        ("오토바이를 누가 끌고 가요! 제 거예요.", "{landmark}에 세워 뒀던 거예요.",
         "{direction}[으로] 가고 있어요, 빨리요."),
    ),
    "violence": (
        ("옆집에서 남자가 소리 지르고 뭘 던지는 소리가 계속 나요.", "여자가 살려 달라고 했어요.",
         "{apt}[이에요]."),
        ("술집 앞에서 사람들이 싸우고 있어요! 한 명은 쓰러졌어요.",
         "{count}[이] 한 사람을 계속 때려요.", "{landmark}[이에요]."),
        ("남편이 술 먹고 저를 때려요.", "지금 {room}에 문 잠그고 있어요.",
         "{address}[이에요], 빨리 와 주세요."),
        ("학교 앞에서 애들이 한 애를 둘러싸고 때리고 있어요.", "{landmark}[이에요].",
         "피가 나는 것 같아요."),
        ("모르는 사람이 갑자기 주먹으로 제 얼굴을 때렸어요.", "{injury}",
         "그 사람 아직 {landmark}에 서 있어요."),
        ("아파트 주차장에서 두 남자가 {weapon} 들고 싸워요.", "{complex} 주차장이에요.",
         "빨리요, 누구 하나 죽겠어요."),
        ("아버지가 형을 때리고 있어요. 제발 와 주세요.", "{address}[이에요].",
         "저는 {room}에 숨어 있어요."),
        ("버스 기사님을 승객이 때리고 있어요!", "{bus}[이고] {landmark}에 서 있어요.",
         "기사님 얼굴에서 피가 나요."),
        ("편의점에서 손님이 직원 멱살을 잡고 때려요.", "{address} 편의점이에요.",
         "직원이 바닥에 쓰러졌어요."),
        ("헤어진 남자친구가 찾아와서 문을 부수려고 해요.", "{apt}[이에요].",
         "아까 저를 밀쳐서 넘어졌어요."),
        ("노래방에서 손님들끼리 병을 깨고 싸워요.", "{place} 건물 {floor} 노래방이에요.",
         "한 명은 머리에서 피가 나요."),
    ),
    "trapped": (
        ("엘리베이터가 멈췄는데 문이 안 열려요.", "{complex} 엘리베이터예요.",
         "안에 {count} 있어요, 숨이 답답해요."),
        ("아이가 화장실에 갇혔어요, 문이 고장 났어요.", "{kid_age}[이에요], 계속 울어요.",
         "{address}[이에요]."),
        ("산에서 길을 잃었는데 날이 어두워졌어요.", "{mountain} 정상에서 내려오다가요.",
         "휴대폰 배터리도 얼마 안 남았어요."),
        ("차가 물에 잠기고 있어요! 문이 안 열려요.", "{landmark} 지하차도예요.",
         "물이 가슴까지 찼어요, 빨리요!"),
        ("냉동 창고 안에 갇혔어요.", "문이 밖에서 잠겼어요, 너무 추워요.",
         "{address} 물류 창고예요."),
        ("지하 주차장 셔터가 내려와서 못 나가요.", "{place} 건물 {floor}[이에요].",
         "주변에 아무도 없어요."),
        ("아이가 차 안에 갇혔어요, 열쇠를 안에 두고 문이 잠겼어요.", "날이 더워서 애가 울고 있어요.",
         "{landmark} 주차장이에요."),
        ("공장 기계에 손이 끼었어요!", "빼려고 해도 안 빠져요.", "{address} 공장이에요, 빨리요."),
        ("{elder}[이] 방 안에서 문을 잠그고 대답을 안 하세요.", "{elder_age}[이고] 혼자 사세요.",
         "{apt}[이에요]."),
        ("계곡에 놀러 왔는데 물이 불어서 건너편에 고립됐어요.", "{count}[이에요].",
         "{mountain} 계곡 쪽이에요."),
        ("베란다에 나왔다가 문이 잠겨서 못 들어가요.", "{floor}[이고] 아기가 안에 혼자 있어요.",
         "{apt}[이에요]."),
    ),
    "electrical": (
        ("콘센트에서 불꽃이 튀고 타는 냄새가 나요.", "{room} 벽 쪽이에요.", "{apt}[이에요]."),
        ("사람이 감전됐어요! 전선을 만지다가 쓰러졌어요.", "{address} 공사 현장이에요.",
         "숨은 쉬는데 움직이질 않아요."),
        ("길에 전선이 끊어져서 바닥에 늘어져 있어요.", "불꽃이 계속 튀어요.",
         "{landmark}[이에요]."),
        ("두꺼비집에서 연기가 나요.", "전기가 다 나갔어요.", "{address}[이에요]."),
        ("전봇대 변압기가 펑 하고 터졌어요.", "불이 붙은 것 같아요.", "{landmark} 근처예요."),
        ("전기장판이 타고 있어요, 이불까지 불이 붙었어요.", "{room}[이에요].",
         "{apt}[이에요], 빨리 와 주세요."),
        ("아이가 젓가락을 콘센트에 넣었다가 감전됐어요.", "{kid_age}인데 울지도 않아요.",
         "{address}[이에요]."),
        ("에어컨 실외기에서 불꽃이 나고 있어요.", "{floor} 베란다 밖이에요.", "{apt}[이에요]."),
        ("공장에서 배전반 점검하던 직원이 감전됐어요.", "{injury}", "{address}[이에요]."),
        ("비가 오는데 가로등에서 전기가 새는 것 같아요.", "강아지가 기둥을 건드리고 쓰러졌어요.",
         "{landmark}[이에요], 사람들도 지나다녀요."),
        ("전기차 충전기에서 연기가 나고 있어요.", "{place} 지하 주차장이에요.",
         "차 안에는 아무도 없어요."),
    ),
    "gas": (
        ("집에서 가스 냄새가 너무 심하게 나요.", "{apt}[이에요].", "머리가 아프고 어지러워요."),
        ("가스가 폭발했어요! 창문이 다 깨졌어요.", "{address}[이에요].", "안에 사람이 있어요."),
        ("식당 주방에서 가스 새는 소리가 나요.", "쉬익 하는 소리가 계속 나요.",
         "{address} {place}[이에요]."),
        ("부탄가스 통이 터져서 사람이 화상을 입었어요.", "{who} 얼굴이 빨갛게 부었어요.",
         "{address}[이에요]."),
        ("옆집에서 가스 냄새가 나는데 사람이 안 나와요.", "문을 두드려도 대답이 없어요.",
         "{apt}[이에요]."),
        ("도로에서 공사하다가 가스관이 터졌어요.", "냄새가 엄청 나요.", "{landmark} 앞이에요."),
        ("보일러실에서 일산화탄소 경보기가 울려요.", "가족들이 다 머리가 아프대요.",
         "{address}[이에요]."),
        ("캠핑장 텐트 안에서 사람이 의식이 없어요.", "난로를 켜 놓고 잤대요.",
         "{mountain} 캠핑장이에요."),
        ("엘피지 통에서 가스가 새고 있어요.", "불이 붙을까 봐 무서워요.",
         "{address} {place}[이에요]."),
        ("가스레인지를 켜 놓고 나왔는데 집에 연기가 가득하대요.", "{elder}[이] 혼자 계세요.",
         "{apt}[이에요]."),
        ("가스 충전소에서 쉭쉭 소리가 나고 냄새가 심해요.", "직원들이 대피하고 있어요.",
         "{landmark} 근처예요."),
    ),
    "fire": (
        ("불이 났어요! 빨리 와 주세요!", "{apt}인데 {room}에서 불이 났어요.",
         "연기가 너무 많아요."),
        ("건물에서 연기가 나고 있어요.", "{address} {place} {floor}[이에요].",
         "안에 사람이 있는 것 같아요."),
        ("산에 불이 났어요, 불길이 점점 커져요.", "{mountain} 쪽이에요.", "바람이 많이 불어요."),
        ("고속도로에서 차에 불이 났어요!", "{highway}[이에요].", "운전자는 빠져나왔어요."),
        ("주방에서 기름에 불이 붙었어요.", "물을 부었더니 더 커졌어요!", "{address}[이에요]."),
        ("옆 건물 창문에서 불길이 보여요.", "{address} {place}[이에요].",
         "사람들이 소리 지르고 있어요."),
        ("공장 창고에 불이 났어요, 펑펑 터지는 소리가 나요.", "{address}[이에요].",
         "직원 {count}[이] 아직 못 나왔어요."),
        ("집에 불이 났는데 {elder}[이] 안에 계세요!", "{apt}[이에요].", "{floor}[이에요], 빨리요!"),
        ("비닐하우스에 불이 붙었어요.", "{dong} 논 옆이에요.", "불이 옆으로 번지고 있어요."),
        ("쓰레기장에서 불이 나서 연기가 엄청 나요.", "{landmark} 뒤쪽이에요.",
         "냄새가 너무 독해요."),
        ("복도에 연기가 가득해서 못 나가겠어요.", "{apt}[이고] {floor}[이에요].",
         "문 닫고 젖은 수건으로 막고 있어요."),
        ("모텔에서 불이 났어요!", "{address} 모텔 {floor}[이에요].",
         "비상구가 어디인지 모르겠어요."),
    ),
    "medical": (
        ("{who}[이] 갑자기 쓰러졌어요! 숨을 안 쉬어요.", "{address}[이에요].",
         "어떻게 해야 돼요?"),
        ("아이가 열이 너무 높고 경련을 해요.", "{kid_age}[이에요].", "{apt}[이에요], 빨리 와 주세요."),
        ("{elder}[이] 가슴이 너무 아프다면서 식은땀을 흘리세요.", "{elder_age}[이세요].",
         "{address}[이에요]."),
        ("밥 먹다가 떡이 목에 걸렸어요! 숨을 못 쉬어요.", "{elder}[이에요].",
         "{apt}[이에요], 빨리요!"),
        ("임신 중인데 양수가 터진 것 같아요.", "진통이 {minutes}마다 와요.", "{address}[이에요]."),
        ("벌에 쏘였는데 얼굴이 붓고 숨이 차요.", "{mountain} 등산로예요.", "{count}[이] 같이 있어요."),
        ("{elder}[이] 당뇨가 있는데 의식이 흐려요.", "불러도 대답을 잘 못 하세요.",
         "{address}[이에요]."),
        ("친구가 술을 너무 많이 마셔서 깨워도 안 일어나요.", "토하고 나서 숨소리가 이상해요.",
         "{address} {place}[이에요]."),
        ("칼에 손을 깊이 베였어요, 피가 안 멈춰요.", "수건으로 누르고 있어요.", "{apt}[이에요]."),
        ("{elder}[이] 한쪽 팔다리에 힘이 없고 말이 어눌해요.", "{minutes} 전부터 그러세요.",
         "{address}[이에요]."),
        ("아이가 약을 삼킨 것 같아요, 약통이 비어 있어요.", "{kid_age}[이에요].",
         "{apt}[이에요], 빨리요."),
    ),
    "storm": (
        ("태풍 때문에 간판이 떨어져서 사람이 깔렸어요.", "{landmark}[이에요].",
         "바람이 너무 세서 다가갈 수가 없어요."),
        ("바람에 지붕이 날아갔어요.", "{address}[이에요].", "비가 집 안으로 다 들어와요."),
        ("강풍에 나무가 쓰러져서 차를 덮쳤어요.", "안에 사람이 있어요.", "{landmark} 앞 도로예요."),
        ("태풍 때문에 집 앞까지 물이 차올라요.", "{elder}[이] 거동이 불편하세요.",
         "{address}[이에요]."),
        ("베란다 창문이 바람에 깨졌어요.", "유리 파편에 아이가 다쳤어요.", "{apt}[이에요]."),
        ("배가 뒤집혔어요! 바람이 너무 세요.", "{beach} 앞바다예요.", "{count}[이] 물에 빠졌어요."),
        ("공사장 크레인이 바람에 흔들려요, 넘어질 것 같아요.", "{address} 공사장이에요.",
         "아래에 사람들이 있어요."),
        ("하천이 넘쳐서 길이 물에 잠겼어요.", "차가 떠내려가고 있어요.", "{landmark} 근처예요."),
        ("바람에 전봇대가 기울어서 집 쪽으로 넘어오려고 해요.", "{address}[이에요].",
         "전선도 끊어졌어요."),
        ("태풍에 비닐하우스가 무너졌는데 아버지가 안에 계셨어요.", "{dong} 들판이에요.",
         "불러도 대답이 없어요."),
        ("비가 너무 와서 뒷산이 무너져 내렸어요!", "{address}[이에요].",
         "흙더미가 집까지 밀려왔어요."),
    ),
    "earthquake": (
        ("지금 땅이 흔들려요! 지진 같아요.", "{apt} {floor}인데 물건이 다 떨어졌어요.",
         "밖으로 나가야 돼요?"),
        ("지진 때문에 벽에 금이 크게 갔어요.", "{address}[이에요].", "건물이 무너질 것 같아요."),
        ("흔들릴 때 책장이 넘어져서 {who}[이] 깔렸어요.", "{apt}[이에요].", "다리를 못 움직여요."),
        ("학교에서 지진이 나서 애들이 운동장에 모여 있어요.", "다친 애들이 몇 명 있어요.",
         "{landmark}[이에요]."),
        ("지진 나고 나서 가스 냄새가 나요.", "{address}[이에요].", "불 켜도 돼요? 무서워요."),
        ("아파트가 계속 흔들리고 유리창이 깨졌어요.", "{apt}[이에요].", "계단으로 내려가고 있어요."),
        ("지진으로 담장이 무너져서 사람이 밑에 있어요.", "{address}[이에요].",
         "빨리 좀 와 주세요."),
        ("여진이 또 왔어요, 천장이 일부 떨어졌어요.", "{place} 건물 {floor}[이에요].",
         "{count}[이] 갇혀 있어요."),
        ("지진 때문에 엘리베이터가 멈췄어요.", "{complex} 엘리베이터예요.", "안에 {elder}[이] 계세요."),
        ("땅이 갈라지고 도로가 꺼졌어요.", "{landmark} 앞이에요.", "차가 빠졌어요."),
        ("집이 흔들리면서 {elder}[이] 넘어지셨어요.", "{elder_age}[이세요], 머리를 부딪치셨어요.",
         "{address}[이에요]."),
    ),
    "fall": (
        ("{elder}[이] 계단에서 굴러떨어지셨어요!", "{injury}", "{apt}[이에요]."),
        ("사다리에서 떨어졌는데 일어나지를 못해요.", "{address} 공사 현장이에요.",
         "허리를 다친 것 같아요."),
        ("욕실에서 미끄러져서 머리를 부딪치셨어요.", "{elder}[이고] {elder_age}[이세요].",
         "{address}[이에요]."),
        ("빙판길에 넘어졌는데 다리가 이상하게 꺾였어요.", "{landmark} 앞이에요.",
         "혼자 못 일어나요."),
        ("아이가 놀이터 미끄럼틀에서 떨어졌어요.", "{kid_age}인데 울지도 않아요.",
         "{complex} 놀이터예요."),
        ("등산하다가 친구가 바위에서 미끄러져 떨어졌어요.", "{mountain} 중턱이에요.",
         "발목이 퉁퉁 부었어요."),
        ("공사장 비계에서 작업자가 추락했어요.", "{floor} 높이에서요.",
         "{address}[이에요], 의식이 없어요."),
        ("{elder}[이] 침대에서 떨어지셔서 엉덩이가 아프대요.", "움직이질 못하세요.", "{apt}[이에요]."),
        ("에스컬레이터에서 사람들이 한꺼번에 넘어졌어요!", "{place} 건물이에요, {landmark} 근처요.",
         "{count}[이] 다쳤어요."),
        ("자전거 타다가 넘어져서 팔이 부러진 것 같아요.", "{river} 자전거 도로예요.",
         "피도 많이 나요."),
        ("지붕 고치다가 {elder}[이] 떨어지셨어요.", "{address}[이에요].", "{injury}"),
    ),
    "collapse": (
        ("건물이 무너졌어요! 사람들이 깔렸어요.", "{address} {place}[이에요].",
         "먼지 때문에 앞이 안 보여요."),
        ("공사장 옹벽이 무너져서 작업자가 묻혔어요.", "{address}[이에요].",
         "{count}[이] 안 보여요."),
        ("천장이 갑자기 내려앉았어요.", "{place} {floor}[이에요].", "손님들이 다쳤어요."),
        ("오래된 주택 담이 무너져서 지나가던 사람이 깔렸어요.", "{address}[이에요].",
         "다리가 밑에 끼었어요."),
        ("도로가 갑자기 꺼지면서 커다란 구멍이 생겼어요.", "{landmark} 앞이에요.", "사람이 빠졌어요!"),
        ("다리 공사하던 데가 무너졌어요.", "{river} 근처 공사장이에요.", "밑에 차가 있었어요."),
        ("체육관 지붕이 눈 때문에 주저앉았어요.", "{address} 체육관이에요.",
         "안에 학생들이 있었어요."),
        ("철거하던 건물이 도로 쪽으로 쓰러졌어요.", "버스가 깔렸어요!", "{landmark}[이에요]."),
        ("창고 선반이 무너져서 직원이 밑에 깔렸어요.", "{address} 물류 창고예요.", "{injury}"),
        ("아파트 주차장 천장이 무너졌어요.", "{complex} 지하 주차장이에요.",
         "차 안에 사람이 있는지 모르겠어요."),
        ("비 때문에 축대가 무너져서 집을 덮쳤어요.", "{address}[이에요].", "{elder}[이] 안에 계세요."),
    ),
    "help_request": (
        ("저기요, 도와주세요! 제발요!", "여기 {address}[이에요].", "빨리 누구 좀 보내 주세요."),
        ("사람이 물에 빠졌어요! 도와주세요!", "{river} 둔치 쪽이에요.", "떠내려가고 있어요."),
        ("아이를 잃어버렸어요, {minutes} 전까지 옆에 있었는데요.", "{kid_age}[이고] {child}[이에요].",
         "{landmark}[이에요]."),
        ("치매가 있는 {elder}[이] 집을 나가셨어요.", "{time}쯤 나가셨는데 아직 안 오셨어요.",
         "{address}[이에요]."),
        ("다리 위에서 어떤 사람이 뛰어내리려고 해요!", "{bridge} 위예요.", "빨리 와 주세요!"),
        ("친구가 죽고 싶다고 문자를 보내고 연락이 안 돼요.", "{address}에 살아요.",
         "제발 좀 가 봐 주세요."),
        ("혼자 사시는 {elder}[이] 며칠째 전화를 안 받으세요.", "{apt}[이에요].",
         "문 좀 열어 봐 주실 수 있어요?"),
        ("길에 사람이 쓰러져 있는데 움직이질 않아요.", "{landmark} 앞이에요.",
         "{age} 정도 돼 보여요."),
        ("바다에서 애가 튜브 타고 멀리 떠내려가요!", "{beach} 해수욕장이에요.", "빨리요, 안 보여요!"),
        ("누가 계속 우리 집 문을 두드려요, 무서워요.", "{apt}[이에요].", "혼자 있어요, 도와주세요."),
        ("고속도로에서 차가 고장 나서 멈췄는데 차들이 막 지나가요.", "{highway}[이에요].",
         "아이들이 타고 있어요, 도와주세요."),
    ),
    "normal_indoor": (
        ("여보세요? 거기 {shop} 아니에요?", "아, 죄송합니다. 번호를 잘못 눌렀네요.",
         "안녕히 계세요."),
        ("안녕하세요, 분실물 문의 좀 드리려고요.", "{day} {lost} 잃어버렸는데 혹시 들어온 게 있나요?",
         "{phone}[으로] 연락 주세요."),
        ("위층에서 밤마다 쿵쿵거리는데 층간 소음은 어디에 말해요?",
         "급한 건 아니고요, 방법만 알고 싶어서요.", "{apt}[이에요]."),
        ("어제 뉴스에서 불난 거 봤는데 너무 무섭더라고요.", "우리 집 소화기 점검은 어떻게 받아요?",
         "평일에도 되나요?"),
        ("엄마, 나 오늘 {time}쯤 들어갈게.", "저녁은 {food} 먹자.", "응, 이따 봐."),
        ("지난주에 옆 동네에 도둑 들었다는 얘기를 들었거든요.", "순찰 좀 더 돌아 주실 수 있나 해서요.",
         "{dong}[이에요]."),
        ("소방서 견학 신청은 어떻게 하나요?", "유치원 아이들 {count} 정도예요.",
         "{weekday} 오전이 좋겠어요."),
        ("작년에 지진 났을 때 진짜 놀랐잖아.", "그래서 이번에 비상 가방을 챙겨 놨어.",
         "너도 하나 만들어 놔."),
        ("민원실 업무 시간이 어떻게 되나요?", "운전면허 관련해서 물어볼 게 있어서요.",
         "{time}까지 하나요?"),
        ("지난달 교통사고 났던 거 보험 처리 끝났어요.", "경찰서에서 사고 확인서 떼려고 하는데요.",
         "뭘 챙겨 가야 돼요?"),
        ("오늘 드라마 봤어? 불나는 장면 나왔잖아.", "진짜 실감 나더라.", "다음 주가 마지막 회래."),
        ("택배 아저씨세요? 문 앞에 두고 가시면 돼요.", "아, 잘못 걸었네요. 죄송해요.",
         "좋은 하루 보내세요."),
        ("여보세요? 어머, 이거 왜 눌렸지.", "죄송해요, 주머니에서 잘못 눌렸나 봐요.", "끊을게요."),
        ("혼자 사는데 요즘 너무 적적해서요.", "그냥 누구랑 얘기 좀 하고 싶었어요.",
         "이런 데 전화하면 안 되는 거죠? 미안해요."),
        ("아랫집 강아지가 하루 종일 짖는데 어디다 말해야 하나요?", "관리사무소에는 벌써 말했어요.",
         "{apt}[이에요]."),
        ("재활용 버리는 날이 무슨 요일이에요?", "이사 온 지 얼마 안 돼서 잘 몰라서요.",
         "아 {weekday}요? 고맙습니다."),
        ("어제 잃어버린 {lost} 찾았어요.", "신고 취소하려고 전화드렸어요.", "수고 많으세요."),
        ("보이스피싱 문자 같은 게 왔는데 어디로 신고해요?", "링크는 안 눌렀어요.",
         "번호만 알려 주시면 제가 할게요."),
        ("우리 애가 장난으로 여기 전화를 한 것 같아요.", "정말 죄송합니다, 주의시킬게요.",
         "아무 일 없어요."),
        ("윗집 공사 소리 때문에 낮에 잠을 못 자요.", "공사 허가 시간이 정해져 있나요?",
         "야간 근무라서 그래요."),
    ),
    "normal_outdoor": (
        ("지금 {landmark}인데 시청은 어느 쪽으로 가요?", "버스 타면 {minutes} 걸려요?",
         "네 알겠어요, 고마워요."),
        ("길에서 지갑을 주웠는데요, 어디에 갖다 드리면 돼요?", "{landmark} 근처 파출소 가면 되나요?",
         "네, 알겠습니다."),
        ("여기 {park} 산책하는데 날씨 진짜 좋다.", "너도 나와, 같이 커피 마시자.",
         "{landmark}에서 기다릴게."),
        ("아까 시장에서 싸움 났던 거 봤어?", "다 끝났어, 경찰 와서 정리했대.", "지금은 조용해."),
        ("주차 단속 문의 좀 하려고요.", "{address} 앞에 불법 주차한 차가 며칠째 있어요.",
         "급한 건 아니에요."),
        ("길고양이가 다친 것 같은데 이런 것도 신고가 되나요?", "{landmark} 화단에 있어요.",
         "아, 구청에 연락하면 되는군요."),
        ("지금 {station} 도착했어. 몇 번 출구야?", "{exit}? 알았어.", "금방 갈게."),
        ("어제 여기서 차 사고 났었대.", "지금은 다 치웠더라.", "신호등 하나 생겼으면 좋겠어."),
        ("등산로 입구 주차장은 몇 시에 문 닫아요?", "{mountain} 쪽이요.", "네, 감사합니다."),
        ("여보세요? 치킨집 아니에요?", "아 죄송해요, 잘못 걸었어요.", "네 수고하세요."),
        ("축제 때 교통 통제하는 구간이 어디예요?", "{weekday}에 {dong} 쪽에서 행사가 있다고 해서요.",
         "알려 주셔서 감사해요."),
        ("캠핑 와서 모닥불 보고 있는데 너무 좋다.", "아까 옆 텐트 사람들이 고기를 나눠 줬어.",
         "내일 {time}에 출발할게."),
        ("택시에 {lost}[을] 두고 내렸는데 어떻게 찾아요?", "{time}쯤 {station} 앞에서 내렸어요.",
         "영수증은 있어요."),
        ("{landmark}에 가로등이 며칠째 꺼져 있어요.", "위험한 건 아닌데 밤에 좀 어두워서요.",
         "어디에 말씀드리면 될까요?"),
        ("도로에 큰 구멍이 파여 있어서요.", "{address} 앞이에요.", "급한 건 아니고 고쳐 주셨으면 해서요."),
        ("{station}에서 {park} 가려면 몇 번 버스 타요?", "걸어가면 멀어요?", "네, 감사합니다."),
        ("할머니, 저 지금 버스 탔어요.", "{minutes} 뒤면 도착해요.", "밥 먹지 말고 기다리세요."),
        ("마라톤 대회 때문에 길이 막혔는데 언제 풀려요?", "{dong} 쪽이요.", "아 점심때까지요? 알겠어요."),
        ("공원 벤치에 누가 가방을 두고 갔어요.", "주인이 안 와서요, 어디에 맡기면 돼요?",
         "{park}[이에요]."),
        ("차 빼 달라는 번호가 없어서 전화했어요.", "{address} 골목에 차가 입구를 막고 있어요.",
         "급하진 않은데 좀 난감하네요."),
    ),
}

_COMPOSED_NORMAL = framings.normal_scripts()

#: Every template of every category, in a fixed order: the hand-written ones
#: ("<category>-NN"), the everyday frames around an incident ("<category>-fNN",
#: :func:`synth.framings.normal_scripts`) and the absurd claims only pranks make
#: ("<category>-aNN", ``prank_only``).
TEMPLATES: tuple[Template, ...] = tuple(
    Template(f"{category}-{number:02d}", category, lines)
    for category in CATEGORIES
    for number, lines in enumerate(_SCRIPTS[category], start=1)
) + tuple(
    Template(f"{category}-f{number:02d}", category, lines)
    for category in NORMAL_CATEGORIES
    for number, lines in enumerate(_COMPOSED_NORMAL.get(category, ()), start=1)
) + tuple(
    Template(f"{category}-a{number:02d}", category, lines, prank_only=True)
    for category in EMERGENCY_CATEGORIES
    for number, lines in enumerate(framings.ABSURD_CLAIMS.get(category, ()), start=1)
)
TEMPLATES_BY_ID: Mapping[str, Template] = {t.template_id: t for t in TEMPLATES}

_MARKER = re.compile(r"\{(\w+)\}(?:\[(\w+)\])?")
_PLAIN_SUFFIXES = ("에", "인데")


def render_template(template: Template, *, rng: np.random.Generator) -> tuple[Phrase, ...]:
    """Fills ``template``'s slots: one :class:`Phrase` per caller line.

    A slot used twice in a template gets the same value both times. Spoken forms hold no
    digits: every number is in Hangul words.
    """
    values: dict[str, Phrase] = {}

    def fill(line: str, form: str) -> str:
        def replace(match: re.Match) -> str:
            name, particle = match.group(1), match.group(2)
            if name not in SLOTS:
                raise ConfigError(f"template {template.template_id} uses unknown slot {name!r}")
            if name not in values:
                values[name] = SLOTS[name](rng)
            value = values[name]
            word = getattr(value, form)
            if particle is None:
                return word
            return word + particle_after(value.spoken, particle)
        return _MARKER.sub(replace, line)

    phrases = []
    for line in template.lines:
        # fill the written form first so every slot is drawn in the order it appears
        text = fill(line, "text")
        phrases.append(Phrase(text, fill(line, "spoken")))
    return tuple(phrases)


# --- the split ----------------------------------------------------------------------------

def template_splits(*, seed: int) -> dict[str, str]:
    """template_id -> split (:data:`SPLITS`), fixed by ``seed``.

    Each category's templates (and, as one more group, all the ``prank_only`` ones) are
    shuffled with a generator seeded by (seed, group index); ``max(2, floor(15 %))`` of
    them go to test, ``max(1, floor(15 %))`` to validation, the rest to train. So no
    template is in two splits and every category has templates in every split.
    """
    groups = [[t.template_id for t in TEMPLATES if t.category == category and not t.prank_only]
              for category in CATEGORIES]
    for category, ids in zip(CATEGORIES, groups):
        if len(ids) < MIN_TEMPLATES:
            raise ConfigError(
                f"category {category} has {len(ids)} templates, needs {MIN_TEMPLATES}")
    groups.append([t.template_id for t in TEMPLATES if t.prank_only])
    splits: dict[str, str] = {}
    for index, ids in enumerate(groups):
        order = np.random.default_rng([seed, 7, index]).permutation(len(ids))
        n_test = max(2, math.floor(TEST_SHARE * len(ids)))
        n_validation = max(1, math.floor(VALIDATION_SHARE * len(ids)))
        for rank, position in enumerate(order):
            split = ("test" if rank < n_test else
                     "validation" if rank < n_test + n_validation else "train")
            splits[ids[position]] = split
    return splits


def templates_in(splits: Mapping[str, str], *, categories: tuple[str, ...],
                 split: str, pranks: bool = False) -> tuple[Template, ...]:
    """The templates of ``categories`` that ``splits`` puts in ``split``; the
    ``prank_only`` ones only with ``pranks``."""
    if split not in SPLITS:
        raise ConfigError(f"split={split!r} must be one of {SPLITS}")
    return tuple(t for t in TEMPLATES
                 if t.category in categories and splits[t.template_id] == split
                 and (pranks or not t.prank_only))


# --- words around the script --------------------------------------------------------------

#: Joking openings and endings of prank calls: (written, spoken).
PRANK_OPENINGS = (
    Phrase("ㅋㅋ 여보세요?", "크크 여보세요?"),
    Phrase("아 잠깐만, 웃음 좀 참고. ㅋㅋ", "아 잠깐만, 웃음 좀 참고. 크크크"),
    Phrase("야 진짜 받았어 ㅋㅋ", "야 진짜 받았어 크크"),
    Phrase("흐흐 저기요~", "흐흐 저기요"),
)
PRANK_ENDINGS = (
    Phrase("뻥이야 ㅋㅋㅋ", "뻥이야 크크크"),
    Phrase("장난 전화예요 ㅋㅋ", "장난 전화예요 크크"),
    _same("농담이에요, 농담."),
    Phrase("몰래카메라입니다~ ㅋㅋ", "몰래카메라입니다 크크"),
    Phrase("아 웃겨 죽겠네 ㅋㅋㅋ", "아 웃겨 죽겠네 크크크"),
    _same("그냥 심심해서 걸어 봤어요."),
    Phrase("진짜 출동하는지 궁금해서요 ㅎㅎ", "진짜 출동하는지 궁금해서요 흐흐"),
    Phrase("내기에서 져서 전화한 거예요 ㅋㅋ", "내기에서 져서 전화한 거예요 크크"),
    Phrase("아니에요~ 아무 일도 없어요 ㅋㅋ", "아니에요 아무 일도 없어요 크크"),
    Phrase("구라임 ㅋㅋ", "구라임 크크"),
)
#: Urgent words an emergency caller repeats while waiting.
URGENT_REPEATS = tuple(_same(text) for text in (
    "빨리요!", "제발 빨리 와 주세요!", "여보세요? 듣고 계세요?", "살려 주세요!", "어떡해요, 어떡해!",
    "아직이에요? 빨리요!", "제발요, 제발!"))

#: Background talk: the crowd babble and the television of :mod:`synth.sounds` (never a
#: caller's words, so they carry nothing across splits).
BABBLE_LINES = (
    "오늘 점심 뭐 먹을까?", "어제 그 영화 봤어?", "주말에 비 온대.", "이거 얼마예요?",
    "잠깐만 기다려 봐.", "회의 몇 시에 시작해?", "아 진짜 맛있다.", "다음 주에 여행 가기로 했어.",
    "버스 벌써 갔나?", "커피 한 잔 더 할래?", "요즘 너무 바빠.", "그래서 어떻게 됐는데?",
)
TV_LINES = (
    "오늘 전국이 대체로 맑겠습니다.", "다음 소식입니다.", "주식 시장이 소폭 올랐습니다.",
    "이번 주말 고속도로는 다소 붐비겠습니다.", "지금부터 스포츠 소식 전해 드립니다.",
    "내일 아침 기온은 조금 낮겠습니다.", "시청자 여러분 안녕하십니까.",
)

#: What the call-taker says: greetings per line, then replies per label.
TAKER_GREETINGS = {
    "112": (Phrase("네, 112입니다.", "네, 일일이입니다."),
            Phrase("112 신고센터입니다. 무슨 일이세요?", "일일이 신고센터입니다. 무슨 일이세요?")),
    "119": (Phrase("네, 119입니다.", "네, 일일구입니다."),
            Phrase("119 상황실입니다. 무슨 일이세요?", "일일구 상황실입니다. 무슨 일이세요?")),
}
TAKER_REPLIES = {
    "emergency": tuple(_same(text) for text in (
        "주소가 정확히 어떻게 되세요?", "진정하시고 천천히 말씀해 주세요.", "다친 사람 있어요?",
        "네, 바로 출동하겠습니다.", "전화 끊지 마시고 기다려 주세요.", "지금 안전한 곳에 계세요?")),
    "normal": tuple(_same(text) for text in (
        "네, 말씀하세요.", "그건 민원실로 문의하시면 됩니다.", "네, 알겠습니다.",
        "여기는 긴급 신고 전화입니다.", "다른 번호로 거셔야 해요.")),
    "prank": tuple(_same(text) for text in (
        "주소가 정확히 어떻게 되세요?", "장난 전화는 처벌받을 수 있습니다.", "지금 장난하시는 거예요?",
        "네? 다시 말씀해 주세요.")),
}


def prank_markers(*, rng: np.random.Generator) -> tuple[Phrase | None, Phrase | None]:
    """(opening, ending) joking words of one prank call; either may be ``None``.

    About 70 % of prank calls end with a joke or a confession (ㅋㅋ, 장난, 농담, 뻥이야,
    몰래카메라 …) and 35 % open with laughter; the rest give themselves away only by a calm,
    amused delivery.
    """
    opening = _pick(rng, PRANK_OPENINGS) if rng.random() < 0.35 else None
    ending = _pick(rng, PRANK_ENDINGS) if rng.random() < 0.7 else None
    return opening, ending
